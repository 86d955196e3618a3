import { Extensions, Field, ID, InterfaceType } from 'type-graphql';
import { nodeTypeOf } from '../ids.js';

/**
 * Marks a field read from the object in hand, never from the database: resolving it opens no transaction.
 * Only for plain properties; a field that may query must not carry it (it would read outside the scoped
 * transaction). Events pushed to many subscribers are made of such fields, so pushing one costs no database.
 */
export const IN_MEMORY = { inMemory: true };

/** Ids carry their type, so resolveType needs no lookup (see src/ids.ts). */
export const resolveNodeType = (value: { id: string }) => nodeTypeOf(value.id);

@InterfaceType('Node', { resolveType: resolveNodeType })
export abstract class Node {
  @Field(() => ID)
  @Extensions(IN_MEMORY)
  id!: string;
}
