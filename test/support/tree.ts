import {
  CreateAccountDocument,
  CreateRateGroupDocument,
  TopUpDocument,
  UpdateAccountDocument,
  type CreateAccountInput,
  type RateInput,
} from '../generated/graphql.js';
import { createPlatform, unique, type TestServer } from './harness.js';

export interface Node {
  id: string;
  token: string;
  email: string;
}

/** Creates an account through the API and returns a token for it (signed directly: login has its own tests). */
export async function addAccount(
  server: TestServer,
  parentToken: string,
  input: Partial<CreateAccountInput> & { kind: CreateAccountInput['kind'] },
): Promise<Node> {
  const email = input.email ?? `${unique(input.kind.toLowerCase())}@example.test`;
  const data = await server.ok(CreateAccountDocument, { input: { name: input.name ?? email, email, ...input } }, parentToken);
  const id = data.createAccount.id;
  return { id, email, token: server.app.services.auth.sign(id) };
}

export async function topUp(server: TestServer, token: string, accountId: string, amount: string) {
  return server.ok(TopUpDocument, { input: { accountId, amount } }, token);
}

/**
 * The fixture every scoping test needs: admin -> R1 -> (SR1 -> C11, C1), and a sibling admin -> R2 -> C2 whose
 * data must stay invisible to R1's side, plus a second platform that nobody on the first may see.
 */
export async function buildTree(server: TestServer) {
  const platform = await createPlatform(server);
  const admin: Node = { id: platform.id, token: platform.token, email: platform.email };
  const r1 = await addAccount(server, admin.token, { kind: 'RESELLER', name: 'R1' });
  const sr1 = await addAccount(server, r1.token, { kind: 'RESELLER', name: 'SR1', resellerModel: 'COMMISSION' });
  const c11 = await addAccount(server, sr1.token, { kind: 'CUSTOMER', name: 'C11' });
  const c1 = await addAccount(server, r1.token, { kind: 'CUSTOMER', name: 'C1' });
  const r2 = await addAccount(server, admin.token, { kind: 'RESELLER', name: 'R2' });
  const c2 = await addAccount(server, r2.token, { kind: 'CUSTOMER', name: 'C2' });
  const other = await createPlatform(server);
  const otherAdmin: Node = { id: other.id, token: other.token, email: other.email };
  const otherCustomer = await addAccount(server, otherAdmin.token, { kind: 'CUSTOMER', name: 'Elsewhere' });
  return { admin, r1, sr1, c11, c1, r2, c2, otherAdmin, otherCustomer };
}

/** A rate group of the caller's with these rates; its id. */
export async function rateGroup(server: TestServer, token: string, rates: RateInput[]): Promise<string> {
  const { createRateGroup } = await server.ok(CreateRateGroupDocument, { input: { name: unique('group'), rates } }, token);
  return createRateGroup.id;
}

/**
 * admin -> R -> customers, billed per second: R pays the admin's rates, each customer R's (prefix -> rate per
 * minute). What the rating, pools, admission and re-rating tests work out by hand.
 */
export async function perSecondChain(
  server: TestServer,
  {
    reseller = { '44': '0.03' },
    customer = { '44': '0.06' },
    customers = 1,
  }: {
    reseller?: Record<string, string>;
    customer?: Record<string, string>;
    customers?: number;
  } = {},
) {
  const p = await createPlatform(server);
  const admin: Node = { id: p.id, token: p.token, email: p.email };
  const r = await addAccount(server, admin.token, { kind: 'RESELLER' });
  const perSecond = (rates: Record<string, string>): RateInput[] =>
    Object.entries(rates).map(([prefix, ratePerMinute]) => ({ prefix, ratePerMinute, initialIncrement: 1, increment: 1 }));
  const resellerGroup = await rateGroup(server, admin.token, perSecond(reseller));
  await server.ok(UpdateAccountDocument, { id: r.id, input: { rateGroupId: resellerGroup } }, admin.token);
  const customerGroup = await rateGroup(server, r.token, perSecond(customer));
  const cs: Node[] = [];
  for (let i = 0; i < customers; i++) {
    const c = await addAccount(server, r.token, { kind: 'CUSTOMER' });
    await server.ok(UpdateAccountDocument, { id: c.id, input: { rateGroupId: customerGroup } }, r.token);
    cs.push(c);
  }
  return { admin, r, cs, c: cs[0], resellerGroup, customerGroup };
}
