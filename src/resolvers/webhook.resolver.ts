import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context.js';
import { PageArgs } from '../schema/connection.js';
import {
  CreateWebhookEndpointInput,
  UpdateWebhookEndpointInput,
  WebhookDeliveriesArgs,
  WebhookDeliveryConnection,
  WebhookDeliveryType,
  WebhookEndpointConnection,
  WebhookEndpointPayloadType,
  WebhookEndpointType,
} from '../schema/webhook.js';
import { AccountType } from '../schema/account.js';
import type { WebhookDeliveryRow, WebhookEndpointRow } from '../webhooks/store.js';

@Resolver(() => WebhookEndpointType)
export class WebhookEndpointResolver {
  @Query(() => WebhookEndpointConnection, { description: "The caller's own endpoints, oldest first" })
  @Authorized()
  webhookEndpoints(@Args() args: PageArgs, @Ctx() ctx: Context) {
    return ctx.services.webhooks.list(ctx, args);
  }

  @Query(() => WebhookDeliveryConnection, { description: "An endpoint's delivery log, newest first" })
  @Authorized()
  webhookDeliveries(@Arg('endpointId', () => ID) endpointId: string, @Args() args: WebhookDeliveriesArgs, @Ctx() ctx: Context) {
    return ctx.services.webhooks.deliveries(ctx, endpointId, args);
  }

  @Mutation(() => WebhookEndpointPayloadType, { description: 'The secret is shown in this answer only' })
  @Authorized()
  createWebhookEndpoint(@Arg('input') input: CreateWebhookEndpointInput, @Ctx() ctx: Context) {
    return ctx.services.webhooks.create(ctx, input);
  }

  @Mutation(() => WebhookEndpointType, { description: 'By its owner' })
  @Authorized()
  updateWebhookEndpoint(@Arg('id', () => ID) id: string, @Arg('input') input: UpdateWebhookEndpointInput, @Ctx() ctx: Context) {
    return ctx.services.webhooks.update(ctx, id, input);
  }

  @Mutation(() => WebhookEndpointType, { description: 'By its owner; nothing more is sent to it, and its log goes' })
  @Authorized()
  deleteWebhookEndpoint(@Arg('id', () => ID) id: string, @Ctx() ctx: Context) {
    return ctx.services.webhooks.delete(ctx, id);
  }

  @Mutation(() => WebhookDeliveryType, { description: 'Back to PENDING with no attempts, due now' })
  @Authorized()
  redeliverWebhook(@Arg('deliveryId', () => ID) deliveryId: string, @Ctx() ctx: Context) {
    return ctx.services.webhooks.redeliver(ctx, deliveryId);
  }

  @FieldResolver(() => AccountType)
  owner(@Root() endpoint: WebhookEndpointRow, @Ctx() ctx: Context) {
    return ctx.services.accounts.ownerView(ctx, endpoint.ownerId);
  }
}

@Resolver(() => WebhookDeliveryType)
export class WebhookDeliveryResolver {
  @FieldResolver(() => WebhookEndpointType)
  endpoint(@Root() delivery: WebhookDeliveryRow, @Ctx() ctx: Context) {
    return ctx.services.webhooks.endpointOf(ctx, delivery);
  }
}
