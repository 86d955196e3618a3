import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, Kind, parse, visit, type GraphQLFormattedError } from 'graphql';
import { AuthenticationError, AuthorizationError } from 'type-graphql';
import { DomainError } from '../errors.js';

/** Errors about the request itself (syntax, unknown fields, bad variables, limits): all bad input to a client. */
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'PERSISTED_QUERY_NOT_FOUND',
  'INTROSPECTION_DISABLED',
  'MAX_RECURSIVE_SELECTIONS_EXCEEDED',
]);

/** Finds the argument or input field a bad literal was written for, so BAD_USER_INPUT can name it. */
function literalField(error: GraphQLError): string | undefined {
  const node = error.nodes?.[0];
  const body = error.source?.body;
  if (!node?.loc || !body) return undefined;
  let found: string | undefined;
  try {
    visit(parse(body), {
      enter(n) {
        if ((n.kind === Kind.OBJECT_FIELD || n.kind === Kind.ARGUMENT) && n.value.loc?.start === node.loc!.start) {
          found = n.name.value;
        }
      },
    });
  } catch {
    return undefined;
  }
  return found;
}

/** `Variable "$input" got invalid value "1e5" at "input.amount"` names input.amount; else the variable itself. */
function variableField(message: string): string | undefined {
  const at = /got invalid value .* at "([^"]+)"/.exec(message);
  if (at) return at[1].split('.').filter((p) => !/^\d+$/.test(p)).at(-1);
  const variable = /^Variable "\$([^"]+)"/.exec(message);
  return variable?.[1];
}

export function isUnexpected(error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (original instanceof DomainError || original instanceof AuthenticationError || original instanceof AuthorizationError) {
    return false;
  }
  const code = (original as GraphQLError)?.extensions?.code ?? (error as GraphQLError)?.extensions?.code;
  return !(typeof code === 'string' && (REQUEST_ERROR_CODES.has(code) || code === 'UNAUTHENTICATED'));
}

/**
 * The error table's last step: domain errors keep their code, request errors become BAD_USER_INPUT, and
 * anything else is masked (the lifecycle plugin logs it with the request id first).
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const base = { locations: formatted.locations, path: formatted.path };
  if (original instanceof DomainError) {
    return { message: original.message, ...base, extensions: original.extensions };
  }
  if (original instanceof AuthenticationError) {
    return { message: 'Authentication is required', ...base, extensions: { code: 'UNAUTHENTICATED' } };
  }
  if (original instanceof AuthorizationError) {
    return { message: 'Not allowed for this account', ...base, extensions: { code: 'FORBIDDEN' } };
  }
  const code = formatted.extensions?.code;
  if (code === 'UNAUTHENTICATED') {
    return { message: formatted.message.replace(/^Context creation failed: /, ''), extensions: { code } };
  }
  if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code)) {
    const field =
      error instanceof GraphQLError ? (variableField(error.message) ?? literalField(error)) : undefined;
    return {
      message: formatted.message,
      ...base,
      extensions: { code: 'BAD_USER_INPUT', ...(field ? { field } : {}) },
    };
  }
  return { message: 'Internal server error', ...base, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}
