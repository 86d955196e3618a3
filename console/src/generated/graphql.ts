/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type AccountKind =
  | 'ADMIN'
  | 'CUSTOMER'
  | 'RESELLER';

export type AccountStatus =
  | 'ACTIVE'
  | 'DELETED'
  | 'SUSPENDED';

export type AlertKind =
  | 'CREDIT_EXHAUSTED'
  | 'LOW_BALANCE';

export type BillingMode =
  | 'POSTPAID'
  | 'PREPAID';

export type DidStatus =
  /** Held by an account through one of its subscriptions */
  | 'ASSIGNED'
  /** In the platform's stock */
  | 'AVAILABLE'
  /** Kept for its last holder until holdUntil */
  | 'ON_HOLD';

export type Direction =
  | 'INBOUND'
  | 'OUTBOUND';

export type ConsoleAccountFragment = { id: string, number: string, kind: AccountKind, name: string, email: string | null, status: AccountStatus, currency: string, billingMode: BillingMode, balance: string, availableBalance: string, creditLimit: string, lowBalanceThreshold: string | null };

export type ConsolePageInfoFragment = { hasNextPage: boolean, hasPreviousPage: boolean, startCursor: string | null, endCursor: string | null };

export type ConsoleLoginMutationVariables = Exact<{
  email: string;
  password: string;
}>;


export type ConsoleLoginMutation = { login: { token: string, account: { id: string, number: string, kind: AccountKind, name: string, email: string | null, status: AccountStatus, currency: string, billingMode: BillingMode, balance: string, availableBalance: string, creditLimit: string, lowBalanceThreshold: string | null } } };

export type ConsoleMeQueryVariables = Exact<{ [key: string]: never; }>;


export type ConsoleMeQuery = { me: { id: string, number: string, kind: AccountKind, name: string, email: string | null, status: AccountStatus, currency: string, billingMode: BillingMode, balance: string, availableBalance: string, creditLimit: string, lowBalanceThreshold: string | null } };

export type ConsoleChildrenQueryVariables = Exact<{
  id: string | number;
  after?: string | null | undefined;
}>;


export type ConsoleChildrenQuery = { account: { id: string, children: { totalCount: number, edges: Array<{ node: { id: string, number: string, kind: AccountKind, name: string, email: string | null, status: AccountStatus, currency: string, billingMode: BillingMode, balance: string, availableBalance: string, creditLimit: string, lowBalanceThreshold: string | null } }>, pageInfo: { hasNextPage: boolean, hasPreviousPage: boolean, startCursor: string | null, endCursor: string | null } } } | null };

export type ConsoleAccountDetailQueryVariables = Exact<{
  id: string | number;
}>;


export type ConsoleAccountDetailQuery = { account: { id: string, number: string, kind: AccountKind, name: string, email: string | null, status: AccountStatus, currency: string, billingMode: BillingMode, balance: string, availableBalance: string, creditLimit: string, lowBalanceThreshold: string | null, parent: { id: string, name: string } | null } | null };

export type ConsoleLedgerQueryVariables = Exact<{
  id: string | number;
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
}>;


export type ConsoleLedgerQuery = { account: { id: string, ledger: { totalCount: number, edges: Array<{ node: { id: string, createdAt: string, kind: string, amount: string, balanceAfter: string, description: string | null } }>, pageInfo: { hasNextPage: boolean, hasPreviousPage: boolean, startCursor: string | null, endCursor: string | null } } } | null };

export type ConsoleDidsQueryVariables = Exact<{
  id: string | number;
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
}>;


export type ConsoleDidsQuery = { account: { id: string, dids: { totalCount: number, edges: Array<{ node: { id: string, number: string, status: DidStatus, tags: Array<string>, country: string | null, holdUntil: string | null } }>, pageInfo: { hasNextPage: boolean, hasPreviousPage: boolean, startCursor: string | null, endCursor: string | null } } } | null };

export type ConsoleCallsQueryVariables = Exact<{
  accountId: string | number;
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
}>;


export type ConsoleCallsQuery = { calls: { totalCount: number, edges: Array<{ node: { id: string, callId: string, destination: string, direction: Direction, durationSeconds: number, billedSeconds: number, startedAt: string, cost: string } }>, pageInfo: { hasNextPage: boolean, hasPreviousPage: boolean, startCursor: string | null, endCursor: string | null } } };

export type ConsoleAlertsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
}>;


export type ConsoleAlertsQuery = { alerts: { totalCount: number, edges: Array<{ node: { id: string, kind: AlertKind, availableBalance: string, threshold: string | null, at: string, account: { id: string, name: string, number: string, currency: string } } }>, pageInfo: { hasNextPage: boolean, hasPreviousPage: boolean, startCursor: string | null, endCursor: string | null } } };

export type ConsoleAlertFragment = { id: string, kind: AlertKind, availableBalance: string, threshold: string | null, at: string, account: { id: string, name: string, number: string, currency: string } };

export type ConsoleBalanceChangedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type ConsoleBalanceChangedSubscription = { balanceChanged: { balance: string, availableBalance: string, delta: string, kind: string, at: string, account: { id: string } } };

export type ConsoleAlertRaisedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type ConsoleAlertRaisedSubscription = { alertRaised: { id: string, kind: AlertKind, availableBalance: string, threshold: string | null, at: string, account: { id: string, name: string, number: string, currency: string } } };

export type ConsoleOpenCallsQueryVariables = Exact<{
  id: string | number;
}>;


export type ConsoleOpenCallsQuery = { account: { id: string, maxConcurrentCalls: number | null, openCalls: Array<{ callId: string, destination: string, direction: Direction, maxDurationSeconds: number | null, startedAt: string, expiresAt: string }> } | null };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const ConsoleAccountFragmentDoc = new TypedDocumentString(`
    fragment ConsoleAccount on Account {
  id
  number
  kind
  name
  email
  status
  currency
  billingMode
  balance
  availableBalance
  creditLimit
  lowBalanceThreshold
}
    `, {"fragmentName":"ConsoleAccount"}) as unknown as TypedDocumentString<ConsoleAccountFragment, unknown>;
export const ConsolePageInfoFragmentDoc = new TypedDocumentString(`
    fragment ConsolePageInfo on PageInfo {
  hasNextPage
  hasPreviousPage
  startCursor
  endCursor
}
    `, {"fragmentName":"ConsolePageInfo"}) as unknown as TypedDocumentString<ConsolePageInfoFragment, unknown>;
export const ConsoleAlertFragmentDoc = new TypedDocumentString(`
    fragment ConsoleAlert on Alert {
  id
  kind
  availableBalance
  threshold
  at
  account {
    id
    name
    number
    currency
  }
}
    `, {"fragmentName":"ConsoleAlert"}) as unknown as TypedDocumentString<ConsoleAlertFragment, unknown>;
export const ConsoleLoginDocument = new TypedDocumentString(`
    mutation ConsoleLogin($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    token
    account {
      ...ConsoleAccount
    }
  }
}
    fragment ConsoleAccount on Account {
  id
  number
  kind
  name
  email
  status
  currency
  billingMode
  balance
  availableBalance
  creditLimit
  lowBalanceThreshold
}`) as unknown as TypedDocumentString<ConsoleLoginMutation, ConsoleLoginMutationVariables>;
export const ConsoleMeDocument = new TypedDocumentString(`
    query ConsoleMe {
  me {
    ...ConsoleAccount
  }
}
    fragment ConsoleAccount on Account {
  id
  number
  kind
  name
  email
  status
  currency
  billingMode
  balance
  availableBalance
  creditLimit
  lowBalanceThreshold
}`) as unknown as TypedDocumentString<ConsoleMeQuery, ConsoleMeQueryVariables>;
export const ConsoleChildrenDocument = new TypedDocumentString(`
    query ConsoleChildren($id: ID!, $after: String) {
  account(id: $id) {
    id
    children(first: 50, after: $after) {
      totalCount
      edges {
        node {
          ...ConsoleAccount
        }
      }
      pageInfo {
        ...ConsolePageInfo
      }
    }
  }
}
    fragment ConsoleAccount on Account {
  id
  number
  kind
  name
  email
  status
  currency
  billingMode
  balance
  availableBalance
  creditLimit
  lowBalanceThreshold
}
fragment ConsolePageInfo on PageInfo {
  hasNextPage
  hasPreviousPage
  startCursor
  endCursor
}`) as unknown as TypedDocumentString<ConsoleChildrenQuery, ConsoleChildrenQueryVariables>;
export const ConsoleAccountDetailDocument = new TypedDocumentString(`
    query ConsoleAccountDetail($id: ID!) {
  account(id: $id) {
    ...ConsoleAccount
    parent {
      id
      name
    }
  }
}
    fragment ConsoleAccount on Account {
  id
  number
  kind
  name
  email
  status
  currency
  billingMode
  balance
  availableBalance
  creditLimit
  lowBalanceThreshold
}`) as unknown as TypedDocumentString<ConsoleAccountDetailQuery, ConsoleAccountDetailQueryVariables>;
export const ConsoleLedgerDocument = new TypedDocumentString(`
    query ConsoleLedger($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  account(id: $id) {
    id
    ledger(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      edges {
        node {
          id
          createdAt
          kind
          amount
          balanceAfter
          description
        }
      }
      pageInfo {
        ...ConsolePageInfo
      }
    }
  }
}
    fragment ConsolePageInfo on PageInfo {
  hasNextPage
  hasPreviousPage
  startCursor
  endCursor
}`) as unknown as TypedDocumentString<ConsoleLedgerQuery, ConsoleLedgerQueryVariables>;
export const ConsoleDidsDocument = new TypedDocumentString(`
    query ConsoleDids($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  account(id: $id) {
    id
    dids(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      edges {
        node {
          id
          number
          status
          tags
          country
          holdUntil
        }
      }
      pageInfo {
        ...ConsolePageInfo
      }
    }
  }
}
    fragment ConsolePageInfo on PageInfo {
  hasNextPage
  hasPreviousPage
  startCursor
  endCursor
}`) as unknown as TypedDocumentString<ConsoleDidsQuery, ConsoleDidsQueryVariables>;
export const ConsoleCallsDocument = new TypedDocumentString(`
    query ConsoleCalls($accountId: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  calls(
    accountId: $accountId
    first: $first
    after: $after
    last: $last
    before: $before
  ) {
    totalCount
    edges {
      node {
        id
        callId
        destination
        direction
        durationSeconds
        billedSeconds
        startedAt
        cost
      }
    }
    pageInfo {
      ...ConsolePageInfo
    }
  }
}
    fragment ConsolePageInfo on PageInfo {
  hasNextPage
  hasPreviousPage
  startCursor
  endCursor
}`) as unknown as TypedDocumentString<ConsoleCallsQuery, ConsoleCallsQueryVariables>;
export const ConsoleAlertsDocument = new TypedDocumentString(`
    query ConsoleAlerts($first: Int, $after: String, $last: Int, $before: String) {
  alerts(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges {
      node {
        ...ConsoleAlert
      }
    }
    pageInfo {
      ...ConsolePageInfo
    }
  }
}
    fragment ConsolePageInfo on PageInfo {
  hasNextPage
  hasPreviousPage
  startCursor
  endCursor
}
fragment ConsoleAlert on Alert {
  id
  kind
  availableBalance
  threshold
  at
  account {
    id
    name
    number
    currency
  }
}`) as unknown as TypedDocumentString<ConsoleAlertsQuery, ConsoleAlertsQueryVariables>;
export const ConsoleBalanceChangedDocument = new TypedDocumentString(`
    subscription ConsoleBalanceChanged {
  balanceChanged {
    account {
      id
    }
    balance
    availableBalance
    delta
    kind
    at
  }
}
    `) as unknown as TypedDocumentString<ConsoleBalanceChangedSubscription, ConsoleBalanceChangedSubscriptionVariables>;
export const ConsoleAlertRaisedDocument = new TypedDocumentString(`
    subscription ConsoleAlertRaised {
  alertRaised {
    ...ConsoleAlert
  }
}
    fragment ConsoleAlert on Alert {
  id
  kind
  availableBalance
  threshold
  at
  account {
    id
    name
    number
    currency
  }
}`) as unknown as TypedDocumentString<ConsoleAlertRaisedSubscription, ConsoleAlertRaisedSubscriptionVariables>;
export const ConsoleOpenCallsDocument = new TypedDocumentString(`
    query ConsoleOpenCalls($id: ID!) {
  account(id: $id) {
    id
    maxConcurrentCalls
    openCalls {
      callId
      destination
      direction
      maxDurationSeconds
      startedAt
      expiresAt
    }
  }
}
    `) as unknown as TypedDocumentString<ConsoleOpenCallsQuery, ConsoleOpenCallsQueryVariables>;