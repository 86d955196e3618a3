import {
  createSourceEventStream,
  execute,
  getNamedType,
  isObjectType,
  Kind,
  print,
  type ExecutionArgs,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type SelectionSetNode,
} from 'graphql';
import { map } from '@graphql-yoga/subscription';

/**
 * Subscriptions whose every selected field is IN_MEMORY (read from the event itself, never from the database
 * and never depending on who asks) resolve each event once per distinct operation, whatever the number of
 * subscribers: the first subscriber's result is handed to the others. Which events a subscriber receives is
 * still decided per subscriber, before this (scope, account, credential). Anything else executes per
 * subscriber as graphql-js would. The shared execution runs with the first subscriber's context, so a field
 * whose answer depends on who asks (a role check, the caller's scope) must not be marked IN_MEMORY.
 */
const resolved = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();

export async function subscribeSharingEvents(args: ExecutionArgs) {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return source;
  const key = inMemoryOnly(args)
    ? JSON.stringify([print(args.document), args.operationName ?? null, args.variableValues ?? null])
    : null;
  return map((payload: unknown) => {
    if (key === null || typeof payload !== 'object' || payload === null) return execute({ ...args, rootValue: payload });
    let byOperation = resolved.get(payload);
    if (!byOperation) resolved.set(payload, (byOperation = new Map()));
    let result = byOperation.get(key);
    if (!result) byOperation.set(key, (result = Promise.resolve(execute({ ...args, rootValue: payload }))));
    return result;
  })(source as AsyncIterable<unknown>);
}

function inMemoryOnly({ schema, document, operationName }: ExecutionArgs): boolean {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  let operation;
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
    if (d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName)) operation ??= d;
  }
  const root = schema.getSubscriptionType();
  if (!operation || !root) return false;
  const visit = (type: GraphQLObjectType, set: SelectionSetNode): boolean =>
    set.selections.every((s) => {
      if (s.kind === Kind.FIELD) {
        if (s.name.value === '__typename') return true;
        const field = type.getFields()[s.name.value];
        if (!field?.extensions?.inMemory) return false;
        if (!s.selectionSet) return true;
        const inner = getNamedType(field.type);
        return isObjectType(inner) && visit(inner, s.selectionSet);
      }
      const condition = s.kind === Kind.INLINE_FRAGMENT ? s.typeCondition : fragments[s.name.value]?.typeCondition;
      const selections = s.kind === Kind.INLINE_FRAGMENT ? s.selectionSet : fragments[s.name.value]?.selectionSet;
      const target = condition ? schema.getType(condition.name.value) : type;
      return !!selections && isObjectType(target) && visit(target, selections);
    });
  return visit(root, operation.selectionSet);
}
