import { filter, map, pipe } from '@graphql-yoga/subscription';
import { Args, Authorized, Ctx, Extensions, FieldResolver, Query, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import type { Context } from '../context.js';
import { DomainError } from '../errors.js';
import type { AlertPayload, BalanceEventPayload } from '../events.js';
import type { AlertView, BalanceEventView } from '../services/alert.service.js';
import { AccountType } from '../schema/account.js';
import { IN_MEMORY } from '../schema/node.js';
import { AlertConnection, AlertsArgs, AlertType, BalanceEventType, EventArgs } from '../schema/event.js';

type Subscribe = SubscribeResolverData<unknown, EventArgs, Context>;

/**
 * Subscribers get only events inside their subtree (and of the account they named), and only while their
 * credential holds: a revoked key or a suspended account ends the subscription with UNAUTHENTICATED.
 */
async function scoped<T extends { path: string; accountId: string }, V>(
  { args, context }: Subscribe,
  topic: 'BALANCE' | 'ALERT',
  convert: (payload: T) => V,
) {
  await context.services.alerts.assertSubscribable(context, args.accountId);
  return pipe(
    context.events.subscribe(topic) as AsyncIterable<T>,
    filter((event: T) => context.services.alerts.wants(context, event, args.accountId)),
    map(async (event: T) => {
      if (!(await context.stillAuthorized())) throw new DomainError('UNAUTHENTICATED', 'The credential was revoked or the account suspended');
      return convert(event);
    }),
  );
}

@Resolver(() => AlertType)
@Authorized()
export class AlertResolver {
  @Query(() => AlertConnection, { description: 'Stored alerts, newest first' })
  alerts(@Args() args: AlertsArgs, @Ctx() ctx: Context) {
    return ctx.services.alerts.list(ctx, args.accountId, args);
  }

  @Subscription(() => AlertType, {
    subscribe: (data: Subscribe) => scoped(data, 'ALERT', (p: AlertPayload) => data.context.services.alerts.toAlert(p)),
  })
  @Extensions(IN_MEMORY)
  alertRaised(@Root() alert: AlertView, @Args() _args: EventArgs): AlertView {
    return alert;
  }

  @FieldResolver(() => AccountType)
  account(@Root() alert: AlertView, @Ctx() ctx: Context) {
    return ctx.loaders.account.load(alert.accountId);
  }
}

@Resolver(() => BalanceEventType)
@Authorized()
export class BalanceEventResolver {
  @Subscription(() => BalanceEventType, {
    subscribe: (data: Subscribe) =>
      scoped(data, 'BALANCE', (p: BalanceEventPayload) => data.context.services.alerts.toBalanceEvent(p)),
  })
  @Extensions(IN_MEMORY)
  balanceChanged(@Root() event: BalanceEventView, @Args() _args: EventArgs): BalanceEventView {
    return event;
  }

  @FieldResolver(() => AccountType)
  account(@Root() event: BalanceEventView, @Ctx() ctx: Context) {
    return ctx.loaders.account.load(event.accountId);
  }
}
