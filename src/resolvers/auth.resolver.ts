import { Arg, Args, ArgsType, Authorized, Ctx, Extensions, Field, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context.js';
import { ApiKeyConnection, ApiKeyPayload, ApiKeyScope, ApiKeyType, AuthPayload } from '../schema/auth.js';
import { PageArgs } from '../schema/connection.js';

@ArgsType()
class ApiKeysArgs extends PageArgs {
  @Field(() => ID, { nullable: true, description: 'Defaults to the caller' })
  accountId?: string | null;
}

@Resolver()
export class AuthResolver {
  @Mutation(() => AuthPayload)
  @Extensions({ outsideScope: true })
  login(@Arg('email') email: string, @Arg('password') password: string, @Ctx() ctx: Context) {
    return ctx.services.auth.login(ctx, email, password);
  }

  @Mutation(() => ApiKeyPayload, { description: 'A long-lived key acting as the caller; the secret is shown once' })
  @Authorized()
  createApiKey(
    @Arg('name') name: string,
    @Arg('scopes', () => [ApiKeyScope], { nullable: true, defaultValue: [ApiKeyScope.FULL] }) scopes: ApiKeyScope[] | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.auth.createApiKey(ctx, name, scopes ?? [ApiKeyScope.FULL]);
  }

  @Mutation(() => ApiKeyType)
  @Authorized()
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: Context) {
    return ctx.services.auth.revokeApiKey(ctx, id);
  }

  @Query(() => ApiKeyConnection, { description: "An account's API keys, newest first" })
  @Authorized()
  apiKeys(@Args() args: ApiKeysArgs, @Ctx() ctx: Context) {
    return ctx.services.auth.listApiKeys(ctx, args.accountId, args);
  }
}
