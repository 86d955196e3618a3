import { LRUCache } from 'lru-cache';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  getNamedType,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  Kind,
  Lexer,
  parse,
  Source,
  TokenKind,
  validate,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestHandler, Response } from 'express';
import type { Config } from '../config.js';
import { credentialKey, type Context } from '../context.js';
import { assertCredentialAllows } from './credential-scopes.js';
import { DEFAULT_PAGE_SIZE } from '../services/pagination.js';

/** A request refused for its shape or size: 400 and BAD_USER_INPUT on HTTP, an `error` message on graphql-ws. */
export function requestError(message: string, field?: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'BAD_USER_INPUT', ...(field ? { field } : {}), http: { status: 400 } },
  });
}

/**
 * Caps how often one response name occurs in a selection set once its fragments are merged in. graphql-js's
 * OverlappingFieldsCanBeMerged compares every such pair (and their sub-selections): a few hundred copies of
 * one field took tens of milliseconds of CPU within the token limit. Fragments are measured once each.
 */
export function repeatedFieldsRule(max: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    // What each fragment selects at its own level, counted once per fragment on its own (a count taken while
    // another fragment was half-way through would leave that one out, and be reused wrongly everywhere).
    const fragmentNames = new Map<string, Map<string, number>>();
    const namesOf = (fragment: string, within: Set<string>): Map<string, number> => {
      const known = fragmentNames.get(fragment);
      if (known) return known;
      const names = new Map<string, number>();
      const definition = context.getFragment(fragment);
      // A fragment that spreads itself is invalid, and validation says so; here it only must not loop.
      if (!definition || within.has(fragment)) return names;
      within.add(fragment);
      namesIn(definition.selectionSet, names, within);
      within.delete(fragment);
      fragmentNames.set(fragment, names);
      return names;
    };
    const namesIn = (set: SelectionSetNode, into: Map<string, number>, within: Set<string>): void => {
      for (const s of set.selections) {
        if (s.kind === Kind.FIELD) {
          const name = (s.alias ?? s.name).value;
          into.set(name, (into.get(name) ?? 0) + 1);
        } else if (s.kind === Kind.INLINE_FRAGMENT) {
          namesIn(s.selectionSet, into, within);
        } else {
          for (const [n, count] of namesOf(s.name.value, within)) into.set(n, (into.get(n) ?? 0) + count);
        }
      }
    };
    return {
      SelectionSet(node) {
        const names = new Map<string, number>();
        namesIn(node, names, new Set());
        for (const [name, count] of names) {
          if (count > max) {
            context.reportError(
              new GraphQLError(`Field "${name}" is selected ${count} times in one selection set; at most ${max}`, {
                nodes: [node],
              }),
            );
            return false;
          }
        }
        return undefined;
      },
    };
  };
}

/**
 * The size limits, checked in one cheap pass before graphql-js's own validation (whose overlap check is
 * quadratic): depth, aliases, directives and repeated fields. The token limit has already bounded the
 * document at parse time (Apollo's parseOptions, and parse() on graphql-ws).
 */
export function shapeErrors(schema: GraphQLSchema, document: DocumentNode, config: Config): readonly GraphQLError[] {
  const report = [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)];
  const common = { propagateOnRejection: false, onReject: report, exposeLimits: true };
  return validate(
    schema,
    document,
    [
      maxDepthRule({ ...common, n: config.maxDepth, flattenFragments: true }),
      maxAliasesRule({ ...common, n: config.maxAliases }),
      maxDirectivesRule({ ...common, n: config.maxDirectives }),
      repeatedFieldsRule(config.maxRepeatedFields),
    ],
    { maxErrors: 1 },
  );
}

/** graphql-armor words its messages as syntax errors; they are limits, and say so. */
export function shapeError(error: GraphQLError): GraphQLError {
  return requestError(error.message.replace(/^Syntax Error: /, 'Query refused: '));
}

/** A connection costs its page size times what each node costs; other fields cost 1. */
const connectionEstimator: ComplexityEstimator = ({ args, childComplexity, field }) => {
  if (!getNamedType(field.type).name.endsWith('Connection')) return undefined;
  // first is always filled in (its default); last, when given, may be the page actually asked for.
  const sizes = [args.first, args.last].filter((n): n is number => typeof n === 'number');
  const size = sizes.length > 0 ? Math.max(...sizes) : DEFAULT_PAGE_SIZE;
  return 1 + Math.max(size, 1) * childComplexity;
};

/**
 * The operation's cost, and the error that refuses it if any. Variables are coerced first: a bad variable is the
 * client's mistake (400, naming it), and the cost of a query depends on the page sizes they carry.
 */
export function costError(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName: string | undefined,
  max: number,
): { error: GraphQLError | null; cost: number } {
  // Apollo hands the same parsed document to every request that sends the same text: a dashboard's few documents
  // with their few small variable sets are costed once, not walked again per request.
  const key = `${max}\n${operationName ?? ''}\n${JSON.stringify(variables)}`;
  if (key.length > 1024) return costOf(schema, document, variables, operationName, max);
  let known = costs.get(document);
  if (!known) costs.set(document, (known = new Map()));
  const cost = known.get(key);
  if (cost !== undefined) return { error: null, cost };
  const result = costOf(schema, document, variables, operationName, max);
  // A refusal is built afresh each time: an error object is the request's own.
  if (!result.error) {
    if (known.size >= 64) known.clear();
    known.set(key, result.cost);
  }
  return result;
}

const costs = new WeakMap<DocumentNode, Map<string, number>>();

function costOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName: string | undefined,
  max: number,
): { error: GraphQLError | null; cost: number } {
  const operation = getOperationAST(document, operationName);
  if (!operation) return { error: null, cost: 0 };
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables, { maxErrors: 1 });
  if (coerced.errors) {
    const [error] = coerced.errors;
    return { error: requestError(error.message, variableField(error.message)), cost: 0 };
  }
  let cost: number;
  try {
    cost = getComplexity({
      schema,
      operationName,
      query: document,
      variables,
      estimators: [connectionEstimator, simpleEstimator({ defaultComplexity: 1 })],
    });
  } catch (error) {
    // The walk coerces every directive's arguments (`@include(if: $v)` with $v sent as null): the request's fault.
    if (error instanceof GraphQLError) return { error: requestError(error.message), cost: 0 };
    throw error;
  }
  return {
    error: cost > max ? requestError(`Query is too expensive: cost ${cost} exceeds ${max}; ask for smaller pages`) : null,
    cost,
  };
}

/** `Variable "$input" got invalid value "1e5" at "input.amount"` names amount; else the variable itself. */
export function variableField(message: string): string | undefined {
  const at = /got invalid value .* at "([^"]+)"/.exec(message);
  if (at)
    return at[1]
      .split('.')
      .filter((p) => !/^\d+$/.test(p))
      .at(-1);
  const variable = /^Variable "\$([^"]+)"/.exec(message);
  return variable?.[1];
}

/**
 * Everything an operation must pass before it runs, the same on HTTP (limitsPlugin) and on graphql-ws: its
 * variables and cost, its credential's scopes, and its credential's request budget (spent by its cost).
 */
export async function admitOperation(
  ctx: Context,
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName: string | undefined,
): Promise<void> {
  const refused = costError(schema, document, variables, operationName, ctx.config.maxComplexity);
  if (refused.error) throw refused.error;
  if (!ctx.actor) return;
  const operation = getOperationAST(document, operationName);
  if (operation) {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    assertCredentialAllows(ctx.actor, operation, fragments);
  }
  await ctx.services.throttle.spend(credentialKey(ctx.actor), refused.cost);
}

/**
 * The size limits on HTTP, in front of Apollo: its plugins cannot refuse a request between parsing and
 * validation (a hook that throws there is an internal error), so the document is parsed here too, within
 * the same token limit, and refused before Apollo's validation ever sees it. What fails to parse is left to
 * Apollo, which reports it the usual way.
 */
export function shapeGuard(schema: GraphQLSchema, config: Config): RequestHandler {
  const refuse = (res: Response, message: string) =>
    res.status(400).json({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT' } }] });
  // Documents already found sound, by their text: clients send the same few documents again and again, and
  // lexing and walking each one again cost as much as a small request's SQL. Bounded by the text it holds.
  const passed = new LRUCache<string, { readOnly: boolean }>({
    maxSize: 4 * 1024 * 1024,
    sizeCalculation: (_, key) => key.length,
  });
  return (req, res, next) => {
    const query = req.method === 'GET' ? req.query.query : (req.body as { query?: unknown } | undefined)?.query;
    if (typeof query !== 'string') return next();
    let sound = passed.get(query);
    if (!sound) {
      // Measured before parsing: the parser's own refusal computes a line and column by scanning the whole text,
      // and Apollo would hash and parse it all again.
      const tooLarge = documentTooLarge(query, config);
      if (tooLarge) return refuse(res, tooLarge);
      let document: DocumentNode;
      try {
        document = parse(query);
      } catch {
        return next();
      }
      const [error] = shapeErrors(schema, document, config);
      if (error) return refuse(res, shapeError(error).message);
      sound = { readOnly: document.definitions.every((d) => d.kind !== Kind.OPERATION_DEFINITION || d.operation === 'query') };
      passed.set(query, sound);
    }
    // A document of queries only opens a read-only transaction as it authenticates (Context.authenticate).
    res.locals.readOnly = sound.readOnly;
    next();
  };
}

/**
 * Why a document is too large to read, or null. Its length first; then its line breaks, which count against the
 * token limit (graphql-js splits block strings into lines at about a microsecond each, and comments, which it
 * does not count as tokens, each take a line); then its tokens, counted with the lexer. A malformed document is
 * left for the parser to report.
 */
export function documentTooLarge(body: string, config: Pick<Config, 'maxTokens' | 'maxQueryLength'>): string | null {
  const max = config.maxTokens;
  if (body.length > config.maxQueryLength)
    return `Query refused: the document is longer than ${config.maxQueryLength} characters`;
  let breaks = 0;
  for (let i = body.indexOf('\n'); i !== -1; i = body.indexOf('\n', i + 1)) {
    if (++breaks > max) return `Query refused: the document has more than ${max} lines`;
  }
  for (let i = body.indexOf('\r'); i !== -1; i = body.indexOf('\r', i + 1)) {
    if (body[i + 1] !== '\n' && ++breaks > max) return `Query refused: the document has more than ${max} lines`;
  }
  const lexer = new Lexer(new Source(body));
  try {
    for (let n = 0; n <= max; n++) if (lexer.advance().kind === TokenKind.EOF) return null;
    return `Query refused: the document has more than ${max} tokens`;
  } catch {
    return null;
  }
}

export function limitsPlugin(schema: GraphQLSchema): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, contextValue }) {
          await admitOperation(contextValue, schema, document, request.variables ?? {}, request.operationName ?? undefined);
        },
      };
    },
  };
}
