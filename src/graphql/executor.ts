import type { GatewayGraphQLRequestContext, GatewayInterface } from '@apollo/server-gateway-interface';
import { execute, GraphQLError, visit, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { LRUCache } from 'lru-cache';
import type { Context } from '../context.js';
import { DomainError } from '../errors.js';
import { plannedReads } from './planned-reads.js';

/**
 * Runs queries by a plan when they have one (one SQL statement building the answer: src/graphql/planner.ts),
 * otherwise with graphql-jit behind Apollo: each distinct document is compiled once into a function that
 * resolves its fields without graphql-js's generic walk. Apollo still parses, validates, runs its plugins (the
 * limits, the lifecycle) and formats errors; only execution changes. Apollo takes a custom executor only through
 * its gateway interface, which is what this is.
 *
 * Mutations, and documents with an object or list literal that holds a variable, run on graphql-js as before:
 * graphql-jit leaves custom scalars (Money, DateTime) unparsed inside such literals.
 */
export function queryExecutor(
  schema: GraphQLSchema,
  options: {
    compiled: boolean;
    planned: boolean;
    cacheSize?: number;
    /** Told how each query ran: by its plan, or field by field. */
    ran?: (path: 'planned' | 'resolved') => void;
  },
): GatewayInterface {
  const cacheSize = options.cacheSize ?? 1000;
  const cache = new LRUCache<string, CompiledQuery | false>({ max: cacheSize });
  const planned = options.planned ? plannedReads(schema, cacheSize) : undefined;
  return {
    async load() {
      return {
        schema,
        executor: async (request) => {
          try {
            return await run(request);
          } catch (error) {
            // A read's credential, read only now (Context.authenticate), refuses it as it would have before.
            if (error instanceof DomainError && error.code === 'UNAUTHENTICATED')
              return { errors: [new GraphQLError(error.message, { originalError: error })] };
            throw error;
          }
        },
      };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => undefined;
    },
    async stop() {},
  };

  async function run(request: GatewayGraphQLRequestContext): Promise<ExecutionResult> {
    const variableValues = request.request.variables ?? {};
    const key = `${request.operationName ?? ''}\n${request.source}`;
    const answer = planned && (await planned(request, key));
    if (request.operation?.operation === 'query') options.ran?.(answer ? 'planned' : 'resolved');
    if (answer) return answer;
    await (request.context as unknown as Context).confirmCredential();
    let compiled = cache.get(key);
    if (compiled === undefined) {
      const made =
        options.compiled && request.operation?.operation === 'query' && !hasVariableInLiteral(request.document)
          ? compileQuery(schema, request.document, request.operationName ?? undefined)
          : false;
      compiled = made && isCompiledQuery(made) ? made : false;
      cache.set(key, compiled);
    }
    if (!compiled) {
      return (await execute({
        schema,
        document: request.document,
        contextValue: request.context,
        variableValues,
        operationName: request.operationName,
      })) as ExecutionResult;
    }
    const result = (await compiled.query(undefined, request.context, variableValues)) as ExecutionResult;
    return result.errors ? { ...result, errors: result.errors.map(asGraphQLError) } : result;
  }
}

/**
 * graphql-jit makes its errors with its own constructor, which leaves `extensions` undefined where graphql-js
 * sets an object; Apollo reads `extensions.code` and, failing, would answer a bare error without locations or path.
 */
function asGraphQLError(error: GraphQLError): GraphQLError {
  const made = new GraphQLError(error.message, {
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
  (made as { locations?: GraphQLError['locations'] }).locations = error.locations;
  return made;
}

function hasVariableInLiteral(document: DocumentNode): boolean {
  let depth = 0;
  let found = false;
  visit(document, {
    ObjectValue: { enter: () => void depth++, leave: () => void depth-- },
    ListValue: { enter: () => void depth++, leave: () => void depth-- },
    Variable: () => {
      if (depth > 0) found = true;
    },
  });
  return found;
}
