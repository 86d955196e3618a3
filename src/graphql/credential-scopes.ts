import { Kind, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Actor } from '../context.js';
import { forbidden } from '../errors.js';

/** What a RATING key may call: the switch's side of the platform (DOMAIN.md 1, 5 and 14). */
const RATING_FIELDS = new Set(['rateCall', 'rateCalls', 'authorizeCall', 'startCall', 'endCall', 'rerateCalls', '__typename']);

function rootFields(
  set: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  into = new Set<string>(),
  seen = new Set<string>(),
): Set<string> {
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) into.add(s.name.value);
    else if (s.kind === Kind.INLINE_FRAGMENT) rootFields(s.selectionSet, fragments, into, seen);
    else if (!seen.has(s.name.value)) {
      seen.add(s.name.value);
      const fragment = fragments.get(s.name.value);
      if (fragment) rootFields(fragment.selectionSet, fragments, into, seen);
    }
  }
  return into;
}

/**
 * An API key acts as its creator within its scopes: FULL (everything but managing credentials, which the
 * services refuse to keys), READ_ONLY (queries and subscriptions), RATING (the switch's calls: rating,
 * authorizing, starting and ending them, re-rating).
 * Checked once per operation, before anything runs; a login token has every scope.
 */
export function assertCredentialAllows(
  actor: Actor,
  operation: OperationDefinitionNode,
  fragments: Map<string, FragmentDefinitionNode>,
): void {
  const scopes = actor.scopes;
  if (actor.via === 'token' || !scopes || scopes.includes('FULL')) return;
  if (scopes.includes('READ_ONLY') && operation.operation !== 'mutation') return;
  if (scopes.includes('RATING') && operation.operation !== 'subscription') {
    const fields = rootFields(operation.selectionSet, fragments);
    if ([...fields].every((f) => RATING_FIELDS.has(f))) return;
  }
  throw forbidden(`This API key's scopes (${scopes.join(', ')}) do not allow this operation`);
}
