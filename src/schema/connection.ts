import { ArgsType, Field, Int, ObjectType, type ClassType } from 'type-graphql';

@ObjectType()
export class PageInfo {
  @Field({ description: 'Rows follow this page in the list' })
  hasNextPage!: boolean;

  @Field({ description: 'Rows precede this page in the list' })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true, description: "The first edge's cursor: pass it as `before` for the page before" })
  startCursor!: string | null;

  @Field(() => String, { nullable: true, description: "The last edge's cursor: pass it as `after` for the page after" })
  endCursor!: string | null;
}

/**
 * Relay's connection arguments. `first` keeps the default of 50 the contract gives it; asked for `last` alone, a
 * client means the end of the list, so the default gives way (pagedArgs in src/graphql/schema.ts).
 */
@ArgsType()
export class PageArgs {
  @Field(() => Int, {
    nullable: true,
    defaultValue: 50,
    description: 'Page size from the start (or from `after`), 0 to 500; not with last (its default gives way to last)',
  })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'Only rows after this cursor' })
  after?: string | null;

  @Field(() => Int, { nullable: true, description: 'Page size from the end (or from `before`), 0 to 500; not with first' })
  last?: number | null;

  @Field(() => String, { nullable: true, description: 'Only rows before this cursor' })
  before?: string | null;
}

/** Every list is a connection: { edges { cursor node } pageInfo totalCount }. */
export function Connection<T extends object>(node: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field()
    cursor!: string;

    @Field(() => node)
    node!: T;
  }

  @ObjectType(`${name}Connection`)
  class ConnectionType {
    @Field(() => [Edge])
    edges!: Edge[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    @Field(() => Int)
    totalCount!: number;
  }

  return ConnectionType;
}
