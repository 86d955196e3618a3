import { map, pipe } from '@graphql-yoga/subscription';
import {
  Args,
  Authorized,
  Ctx,
  Extensions,
  FieldResolver,
  Query,
  Resolver,
  Root,
  Subscription,
  type SubscribeResolverData,
} from 'type-graphql';
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
    context.events.subscribeFiltered(
      topic,
      (event) => context.services.alerts.wants(context, event, args.accountId),
      context.config.wsMaxQueuedEvents,
    ) as AsyncIterable<T>,
    // The payload goes on as published, one object for every subscriber: see src/graphql/shared-events.ts.
    map(async (event: T) => {
      if (!(await context.stillAuthorized()))
        throw new DomainError('UNAUTHENTICATED', 'The credential was revoked or the account suspended');
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
  // One listener for the subscription's life; each wait only records how to fail (racing every next() against
  // one never-settling promise would pile a reaction onto it per event).
  let failPending: ((reason: unknown) => void) | undefined;
  signal.addEventListener(
    'abort',
    () => {
      failPending?.(signal.reason);
      void iterator.return?.();
    },
    { once: true },
  );
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise<IteratorResult<T>>((resolve, reject) => {
        failPending = reject;
        iterator.next().then(
          (result) => {
            failPending = undefined;
            if (signal.aborted) reject(signal.reason);
            else resolve(result);
          },
          (error: unknown) => {
            failPending = undefined;
            reject(error);
          },
        );
      });
    },
    async return() {
      await iterator.return?.();
      return { done: true, value: undefined };
    },
  };
}

@Resolver(() => AlertType)
export class AlertResolver {
  @Query(() => AlertConnection, { description: 'Stored alerts, newest first' })
  @Authorized()
  alerts(@Args() args: AlertsArgs, @Ctx() ctx: Context) {
    return ctx.services.alerts.list(ctx, args.accountId, args);
  }

  @Subscription(() => AlertType, {
    subscribe: (data: Subscribe) => scoped<AlertPayload>(data, 'ALERT'),
  })
  @Extensions(IN_MEMORY)
  @Authorized()
  alertRaised(@Root() alert: AlertPayload, @Args() _args: EventArgs, @Ctx() ctx: Context): AlertView {
    return ctx.services.alerts.toAlert(alert);
  }

  @FieldResolver(() => AccountType)
  account(@Root() alert: AlertView, @Ctx() ctx: Context) {
    return ctx.loaders.accountView.load(alert.accountId);
  }
}

@Resolver(() => BalanceEventType)
export class BalanceEventResolver {
  @Subscription(() => BalanceEventType, {
    subscribe: (data: Subscribe) => scoped<BalanceEventPayload>(data, 'BALANCE'),
  })
  @Extensions(IN_MEMORY)
  @Authorized()
  balanceChanged(@Root() event: BalanceEventPayload, @Args() _args: EventArgs, @Ctx() ctx: Context): BalanceEventView {
    return ctx.services.alerts.toBalanceEvent(event);
  }

  @FieldResolver(() => AccountType)
  account(@Root() event: BalanceEventView, @Ctx() ctx: Context) {
    return ctx.loaders.accountView.load(event.accountId);
  }
}
