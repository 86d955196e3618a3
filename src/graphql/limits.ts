import depthLimit from 'graphql-depth-limit';
import { getNamedType, GraphQLError, type ASTVisitor, type DocumentNode, type GraphQLSchema, type ValidationContext } from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import type { ApolloServerPlugin } from '@apollo/server';
import type { Config } from '../config.js';
import { DEFAULT_PAGE_SIZE } from '../services/pagination.js';

/** Caps aliases per operation: aliases multiply work without adding depth or page size. */
export function aliasLimit(max: number) {
  return (context: ValidationContext): ASTVisitor => {
    let count = 0;
    return {
      Field(node) {
        if (node.alias && ++count === max + 1) {
          context.reportError(new GraphQLError(`Too many aliases: at most ${max} per operation`, { nodes: [node] }));
        }
      },
    };
  };
}

export function validationRules(config: Config) {
  return [depthLimit(config.maxDepth), aliasLimit(config.maxAliases)];
}

/** A connection costs its page size times what each node costs; other fields cost 1. */
const connectionEstimator: ComplexityEstimator = ({ args, childComplexity, field }) => {
  if (!getNamedType(field.type).name.endsWith('Connection')) return undefined;
  const first = typeof args.first === 'number' ? args.first : DEFAULT_PAGE_SIZE;
  return 1 + Math.max(first, 1) * childComplexity;
};

export function costOf(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>, operationName?: string): number {
  return getComplexity({
    schema,
    operationName,
    query: document,
    variables,
    estimators: [connectionEstimator, simpleEstimator({ defaultComplexity: 1 })],
  });
}

export function tooExpensive(cost: number, max: number): GraphQLError {
  return new GraphQLError(`Query is too expensive: cost ${cost} exceeds ${max}; ask for smaller pages`, {
    extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
  });
}

/** The same cost limit on HTTP (here) and on graphql-ws (src/http/websocket.ts). */
export function complexityPlugin(schema: GraphQLSchema, config: Config): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          const cost = costOf(schema, document, request.variables ?? {}, request.operationName ?? undefined);
          if (cost > config.maxComplexity) throw tooExpensive(cost, config.maxComplexity);
        },
      };
    },
  };
}
