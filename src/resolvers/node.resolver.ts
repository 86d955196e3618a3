import { Arg, Authorized, Ctx, ID, Query, Resolver } from 'type-graphql';
import type { Context } from '../context.js';
import { nodeTypeOf, type NodeTypeName } from '../ids.js';
import { Node } from '../schema/node.js';

type NodeFinder = (ctx: Context, id: string) => Promise<unknown>;

/** One finder per node type; each applies the caller's scope, so foreign ids come back null. */
const FINDERS: Record<NodeTypeName, NodeFinder> = {
  Account: (ctx, id) => ctx.services.accounts.find(ctx, id),
  LedgerEntry: (ctx, id) => ctx.services.balances.entry(ctx, id),
  ApiKey: (ctx, id) => ctx.services.auth.findApiKey(ctx, id),
};

@Resolver()
@Authorized()
export class NodeResolver {
  @Query(() => Node, { nullable: true })
  async node(@Arg('id', () => ID) id: string, @Ctx() ctx: Context) {
    const type = nodeTypeOf(id);
    return type ? ((await FINDERS[type](ctx, id)) ?? null) : null;
  }
}
