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
 * Relay's connection arguments. `first` declares no default in the schema: one would be sent along with every
 * `last`, which takes the place of `first`. Omitted, the page is the first 50 rows all the same.
 */
@ArgsType()
export class PageArgs {
  @Field(() => Int, {
    nullable: true,
    description: 'Page size from the start (or from `after`), 0 to 500; 50 when neither first nor last is given',
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
