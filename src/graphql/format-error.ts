import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, Kind, parse, visit, type GraphQLFormattedError, type Source } from 'graphql';
import { AuthenticationError, AuthorizationError } from 'type-graphql';
import { DomainError } from '../errors.js';
import { variableField } from './limits.js';

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

/**
 * The argument or input field each bad literal of a request was written for, so BAD_USER_INPUT can name it.
 * Errors carry their location but not their parent, so the request's document is read once for all of its
 * errors (it is small: the token limit bounds it), never once per error.
 */
const literalFields = new WeakMap<Source, Map<number, string>>();

function literalField(error: GraphQLError): string | undefined {
  const start = error.nodes?.[0]?.loc?.start;
  const source = error.source;
  if (start === undefined || !source) return undefined;
  let fields = literalFields.get(source);
  if (!fields) {
    fields = new Map();
    literalFields.set(source, fields);
    try {
      visit(parse(source, { noLocation: false }), {
        enter(n) {
          if ((n.kind === Kind.OBJECT_FIELD || n.kind === Kind.ARGUMENT) && n.value.loc)
            fields!.set(n.value.loc.start, n.name.value);
        },
      });
    } catch {
      // A document that does not parse has no literal to name.
    }
  }
  return fields.get(start);
}

/** The error a resolver, a plugin or a graphql-ws hook threw, under graphql-js's and Apollo's wrappers. */
function originalOf(error: unknown): unknown {
  const original = unwrapResolverError(error);
  if (original instanceof GraphQLError && original.originalError instanceof DomainError) return original.originalError;
  return original;
}

export function isUnexpected(error: unknown): boolean {
  const original = originalOf(error);
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
  const original = originalOf(error);
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
    const given = formatted.extensions?.field;
    const field =
      typeof given === 'string'
        ? given
        : error instanceof GraphQLError
          ? (variableField(error.message) ?? literalField(error))
          : undefined;
    return {
      message: formatted.message,
      ...base,
      extensions: { code: 'BAD_USER_INPUT', ...(field ? { field } : {}) },
    };
  }
  return { message: 'Internal server error', ...base, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}
