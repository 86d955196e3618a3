import { Field, ID, InterfaceType } from 'type-graphql';
import { nodeTypeOf } from '../ids.js';

/** Ids carry their type, so resolveType needs no lookup (see src/ids.ts). */
@InterfaceType('Node', {
  resolveType: (value: { id: string }) => nodeTypeOf(value.id),
})
export abstract class Node {
  @Field(() => ID)
  id!: string;
}
