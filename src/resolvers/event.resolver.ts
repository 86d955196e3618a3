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
async function scoped<T extends { path: string; accountId: string }>({ args, context }: Subscribe, topic: 'BALANCE' | 'ALERT') {
  await context.services.alerts.assertSubscribable(context, args.accountId);
  const events = pipe(
    context.events.subscribe(topic) as AsyncIterable<T>,
    filter((event: T) => context.services.alerts.wants(context, event, args.accountId)),
    // The payload goes on as published, one object for every subscriber: see src/graphql/shared-events.ts.
    map(async (event: T) => {
      if (!(await context.stillAuthorized())) throw new DomainError('UNAUTHENTICATED', 'The credential was revoked or the account suspended');
      return event;
    }),
  );
  return untilEnded(events, context.credentialEnded);
}

/**
 * The events, until the credential ends: then the subscription fails at once with the signal's
 * UNAUTHENTICATED error, even if no event is flowing, and nothing arriving after it is passed on. An iterator
 * rather than an async generator: a generator waiting for its next event could not be returned from (a client
 * leaving, the server closing) until that event came.
 */
function untilEnded<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const ended = new Promise<never>((_, reject) => {
    const fail = () => reject(signal.reason);
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
  ended.catch(() => undefined);
  const stop = (reason: unknown): never => {
    void iterator.return?.();
    throw reason;
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (signal.aborted) stop(signal.reason);
      const next = await Promise.race([iterator.next(), ended]).catch(stop);
      if (signal.aborted) stop(signal.reason);
      return next;
    },
    async return() {
      await iterator.return?.();
      return { done: true, value: undefined };
    },
  };
}

@Resolver(() => AlertType)
@Authorized()
export class AlertResolver {
  @Query(() => AlertConnection, { description: 'Stored alerts, newest first' })
  alerts(@Args() args: AlertsArgs, @Ctx() ctx: Context) {
    return ctx.services.alerts.list(ctx, args.accountId, args);
  }

  @Subscription(() => AlertType, {
    subscribe: (data: Subscribe) => scoped<AlertPayload>(data, 'ALERT'),
  })
  @Extensions(IN_MEMORY)
  alertRaised(@Root() alert: AlertPayload, @Args() _args: EventArgs, @Ctx() ctx: Context): AlertView {
    return ctx.services.alerts.toAlert(alert);
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
    subscribe: (data: Subscribe) => scoped<BalanceEventPayload>(data, 'BALANCE'),
  })
  @Extensions(IN_MEMORY)
  balanceChanged(@Root() event: BalanceEventPayload, @Args() _args: EventArgs, @Ctx() ctx: Context): BalanceEventView {
    return ctx.services.alerts.toBalanceEvent(event);
  }

  @FieldResolver(() => AccountType)
  account(@Root() event: BalanceEventView, @Ctx() ctx: Context) {
    return ctx.loaders.account.load(event.accountId);
  }
}
