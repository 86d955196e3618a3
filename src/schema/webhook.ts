import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Connection, PageArgs } from './connection.js';
import { Node } from './node.js';

export enum WebhookEventType {
  BALANCE_CHANGED = 'BALANCE_CHANGED',
  ALERT_RAISED = 'ALERT_RAISED',
  SUBSCRIPTION_ACTIVATED = 'SUBSCRIPTION_ACTIVATED',
  SUBSCRIPTION_RENEWED = 'SUBSCRIPTION_RENEWED',
  SUBSCRIPTION_PAST_DUE = 'SUBSCRIPTION_PAST_DUE',
  SUBSCRIPTION_RELEASED = 'SUBSCRIPTION_RELEASED',
  SUBSCRIPTION_EXPIRED = 'SUBSCRIPTION_EXPIRED',
  SUBSCRIPTION_TERMINATED = 'SUBSCRIPTION_TERMINATED',
  INVOICE_FINALIZED = 'INVOICE_FINALIZED',
}
registerEnumType(WebhookEventType, { name: 'WebhookEventType' });

export enum DeliveryStatus {
  PENDING = 'PENDING',
  DELIVERED = 'DELIVERED',
  FAILED = 'FAILED',
}
registerEnumType(DeliveryStatus, { name: 'DeliveryStatus' });

@ObjectType('WebhookEndpoint', {
  implements: Node,
  description: "Where an account's events (its own and its subtree's) are POSTed",
})
export class WebhookEndpointType extends Node {
  @Field()
  url!: string;

  @Field(() => [WebhookEventType])
  events!: WebhookEventType[];

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field({ description: 'A disabled endpoint gets no new deliveries, and its pending ones wait' })
  enabled!: boolean;

  @Field()
  createdAt!: Date;
}

export const WebhookEndpointConnection = Connection(WebhookEndpointType, 'WebhookEndpoint');

@ObjectType('WebhookEndpointPayload')
export class WebhookEndpointPayloadType {
  @Field({ description: 'Signs every delivery (Trellis-Signature); shown this once' })
  secret!: string;

  @Field(() => WebhookEndpointType)
  endpoint!: WebhookEndpointType;
}

@ObjectType('WebhookDelivery', { implements: Node, description: 'One event for one endpoint, and its attempts' })
export class WebhookDeliveryType extends Node {
  @Field(() => ID, { description: 'The event id, also sent as Trellis-Event-Id: the same on every attempt' })
  eventId!: string;

  @Field(() => WebhookEventType)
  type!: WebhookEventType;

  @Field(() => DeliveryStatus)
  status!: DeliveryStatus;

  @Field(() => Int)
  attempts!: number;

  @Field(() => Int, { nullable: true, description: "The last attempt's HTTP status, if it got an answer" })
  lastStatusCode!: number | null;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => Date, { nullable: true, description: 'When the next attempt is due (PENDING only)' })
  nextAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true })
  deliveredAt!: Date | null;

  @Field()
  createdAt!: Date;
}

export const WebhookDeliveryConnection = Connection(WebhookDeliveryType, 'WebhookDelivery');

@InputType()
export class CreateWebhookEndpointInput {
  @Field({ description: 'http or https, at most 2000 characters; private addresses are refused' })
  url!: string;

  @Field(() => [WebhookEventType])
  events!: WebhookEventType[];

  @Field(() => String, { nullable: true })
  description?: string | null;
}

@InputType()
export class UpdateWebhookEndpointInput {
  @Field(() => String, { nullable: true })
  url?: string | null;

  @Field(() => [WebhookEventType], { nullable: true })
  events?: WebhookEventType[] | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;
}

@ArgsType()
export class WebhookDeliveriesArgs extends PageArgs {
  @Field(() => DeliveryStatus, { nullable: true })
  status?: DeliveryStatus | null;
}
