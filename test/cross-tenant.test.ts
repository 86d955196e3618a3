import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { createSchema } from '../src/graphql/schema.js';
import {
  AssignPackageDocument,
  CreateApiKeyDocument,
  CreateRateGroupDocument,
  RateCallDocument,
  UpdateAccountDocument,
} from './generated/graphql.js';
import { sql, startServer, type TestServer } from './support/harness.js';
import { optIn, original } from './support/chain.js';
import { buildTree, topUp } from './support/tree.js';

/**
 * Generated from the schema: every query and mutation that takes an id is called, as a sibling reseller and
 * as a customer, with ids from another subtree. Nothing may leak (no victim id in the data, no internal
 * error) and nothing may change (the victim subtree's rows are fingerprinted before and after).
 */
let server: TestServer;
let schema: GraphQLSchema;
let tree: Awaited<ReturnType<typeof buildTree>>;
const victim: Record<string, string> = {};

beforeAll(async () => {
  server = await startServer();
  schema = await createSchema();
  tree = await buildTree(server);
  // The victim subtree: R2 and its customer C2, with one of everything.
  const { r2, c2, admin } = tree;
  const g = (
    await server.ok(
      CreateRateGroupDocument,
      { input: { name: 'victim', rates: [{ prefix: '44', ratePerMinute: '0.1' }] } },
      r2.token,
    )
  ).createRateGroup.id;
  await server.ok(UpdateAccountDocument, { id: c2.id, input: { rateGroupId: g, lowBalanceThreshold: '50' } }, r2.token);
  const adminGroup = (
    await server.ok(
      CreateRateGroupDocument,
      { input: { name: 'wholesale', rates: [{ prefix: '44', ratePerMinute: '0.05' }] } },
      admin.token,
    )
  ).createRateGroup.id;
  await server.ok(UpdateAccountDocument, { id: r2.id, input: { rateGroupId: adminGroup } }, admin.token);
  const p0 = await original(server, admin.token, { price: '1', freeMinutes: 5, destinations: ['44'] });
  const clone = await optIn(server, r2.token, p0, { price: '2' });
  await topUp(server, admin.token, r2.id, '100');
  await topUp(server, r2.token, c2.id, '60');
  const sub = (await server.ok(AssignPackageDocument, { input: { accountId: c2.id, packageId: clone } }, r2.token)).assignPackage
    .id;
  const call = (
    await server.ok(
      RateCallDocument,
      {
        input: {
          accountId: c2.id,
          callId: 'victim-call',
          destination: '447700900000',
          direction: 'OUTBOUND',
          durationSeconds: 30,
          startedAt: new Date().toISOString(),
        },
      },
      admin.token,
    )
  ).rateCall.id;
  const key = (await server.ok(CreateApiKeyDocument, { name: 'victim' }, c2.token)).createApiKey.apiKey.id;
  await server.ok(
    'mutation($id: ID!) { adjustBalance(input: { accountId: $id, amount: "-59" }) { id } }',
    { id: c2.id },
    r2.token,
  );
  const [ledger] = await sql<{ id: string }>(server, 'select id from ledger_entries where account_id = ? limit 1', [c2.id]);
  const [alert] = await sql<{ id: string }>(server, 'select id from alerts where account_id = ? limit 1', [c2.id]);
  Object.assign(victim, {
    account: c2.id,
    reseller: r2.id,
    package: clone,
    rateGroup: g,
    subscription: sub,
    call,
    apiKey: key,
    ledger: ledger.id,
    alert: alert.id,
  });
});
afterAll(() => server.close());

/** Which victim id an argument named so should get. */
function idFor(operation: string, arg: string): string {
  if (arg === 'packageId') return victim.package;
  if (arg === 'rateGroupId') return victim.rateGroup;
  if (arg === 'accountId' || arg === 'parentId') return victim.account;
  const byOperation: Record<string, string> = {
    updateAccount: victim.account,
    deleteAccount: victim.account,
    account: victim.account,
    package: victim.package,
    updatePackage: victim.package,
    setPackageStatus: victim.package,
    packageSubscription: victim.subscription,
    terminateSubscription: victim.subscription,
    revokeApiKey: victim.apiKey,
  };
  return byOperation[operation] ?? victim.account;
}

/** A literal for an input type: victim ids for ID fields, harmless values for the rest. */
function literal(operation: string, name: string, type: GraphQLInputType, depth = 0): string {
  const nullable = getNullableType(type);
  if (isListType(nullable)) return `[${literal(operation, name, nullable.ofType, depth + 1)}]`;
  const named = getNamedType(type);
  if (isEnumType(named)) return named.getValues()[0].name;
  if (isInputObjectType(named)) {
    const fields = Object.values(named.getFields())
      .filter((f) => isNonNullType(f.type) || f.name.endsWith('Id'))
      .map((f) => `${f.name}: ${literal(operation, f.name, f.type, depth + 1)}`);
    return `{ ${fields.join(', ')} }`;
  }
  if (isScalarType(named)) {
    switch (named.name) {
      case 'ID':
        return JSON.stringify(idFor(operation, name));
      case 'Int':
        return name === 'first' ? '5' : '60';
      case 'Boolean':
        return 'true';
      case 'Money':
        return '"1"';
      case 'DateTime':
        return JSON.stringify(name === 'from' ? '2000-01-01T00:00:00Z' : new Date().toISOString());
      default:
        return JSON.stringify(name === 'destination' ? '447700900000' : name === 'prefix' ? '44' : `x-${name}`);
    }
  }
  throw new Error(`no literal for ${String(named)}`);
}

function selection(field: GraphQLField<unknown, unknown>): string {
  const type = getNamedType(field.type);
  if (!isObjectType(type) && !('getFields' in type)) return '';
  const fields = (type as { getFields(): Record<string, unknown> }).getFields();
  const picks = ['__typename', ...['id', 'totalCount', 'allowed', 'sales', 'renewed', 'balance'].filter((f) => f in fields)];
  if ('edges' in fields) picks.push('edges { node { __typename ... on Node { id } } }');
  if ('account' in fields) picks.push('account { id }');
  return `{ ${picks.join(' ')} }`;
}

function operations(kind: 'Query' | 'Mutation', every = false) {
  const root = kind === 'Query' ? schema.getQueryType()! : schema.getMutationType()!;
  const takesId = (a: GraphQLArgument): boolean => {
    const named = getNamedType(a.type);
    if (named.name === 'ID') return true;
    return isInputObjectType(named) && Object.values(named.getFields()).some((f) => getNamedType(f.type).name === 'ID');
  };
  return Object.values(root.getFields())
    .filter((f) => every || f.args.some(takesId))
    .map((f) => {
      const args = f.args
        .filter((a) => isNonNullType(a.type) || takesId(a))
        .map((a) => `${a.name}: ${literal(f.name, a.name, a.type)}`);
      const text = `${kind === 'Query' ? 'query' : 'mutation'} { ${f.name}${args.length ? `(${args.join(', ')})` : ''} ${selection(f)} }`;
      return { name: f.name, text };
    });
}

async function fingerprint(): Promise<string> {
  const [row] = await sql<{ f: string }>(
    server,
    `select md5(concat_ws('|',
        (select string_agg(concat_ws(',', id, name, status, balance, credit_limit, rate_group_id, low_balance_threshold,
                                     daily_spend_limit, billing_mode, email), ';' order by id) from accounts where path like ?),
        (select string_agg(concat_ws(',', id, name, status, price, setup_fee, opted_out_at), ';' order by id) from packages where owner_path like ?),
        (select string_agg(concat_ws(',', id, status, periods_charged, free_seconds_used, ended_at), ';' order by id) from package_subscriptions where owner_path like ?),
        (select count(*) from ledger_entries where owner_path like ?),
        (select string_agg(concat_ws(',', id, revoked_at), ';' order by id) from api_keys where owner_path like ?),
        (select count(*) from rates where owner_path like ?),
        (select count(*) from calls where owner_path like ?),
        (select count(*) from alerts where owner_path like ?))) as f`,
    Array(8).fill(`%/${victim.reseller}/%`),
  );
  return row.f;
}

describe('cross-tenant probes generated from the schema', () => {
  it('finds the operations that take ids', () => {
    const names = [...operations('Query'), ...operations('Mutation')].map((o) => o.name);
    for (const expected of [
      'account',
      'node',
      'package',
      'calls',
      'earnings',
      'updateAccount',
      'topUp',
      'optIn',
      'terminateSubscription',
      'rateCall',
      'revokeApiKey',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it.each(['sibling reseller', 'customer elsewhere'])('as a %s: nothing leaks, nothing changes', async (who) => {
    const token = who === 'sibling reseller' ? tree.r1.token : tree.c1.token;
    const before = await fingerprint();
    const ids = Object.values(victim);
    const failures: string[] = [];
    const ops = [...operations('Query'), ...operations('Mutation')];
    // node(id) for every kind of victim id, too.
    for (const id of ids) ops.push({ name: `node:${id.slice(0, 4)}`, text: `query { node(id: "${id}") { __typename id } }` });
    for (const op of ops) {
      const result = await server.gql(op.text, {}, token);
      const leaked = ids.filter((id) => JSON.stringify(result.data ?? null).includes(id));
      const codes = (result.errors ?? []).map((e) => e.extensions?.code);
      if (leaked.length) failures.push(`${op.name} returned ${leaked.join(', ')}`);
      if (codes.includes('INTERNAL_SERVER_ERROR')) failures.push(`${op.name} failed internally`);
    }
    expect(failures).toEqual([]);
    expect(await fingerprint()).toBe(before);
    expect(ops.length).toBeGreaterThan(30);
  });
});

describe('API key scopes, generated from the schema', () => {
  // Keys of the victim reseller itself: what the key's creator could do is exactly what the scope must hold back.
  const scoped = async (scope: string) =>
    (
      await server.ok(
        'mutation($s: [ApiKeyScope!]) { createApiKey(name: "scoped", scopes: $s) { secret } }',
        { s: [scope] },
        tree.r2.token,
      )
    ).createApiKey.secret as string;

  it('READ_ONLY: every mutation is refused, every query answers, nothing changes', async () => {
    const secret = await scoped('READ_ONLY');
    const before = await fingerprint();
    const wrong: string[] = [];
    for (const op of operations('Mutation', true)) {
      if (!(await server.gql(op.text, {}, secret)).errors?.some((e) => e.extensions?.code === 'FORBIDDEN'))
        wrong.push(`${op.name} was not refused`);
    }
    for (const op of operations('Query', true)) {
      const codes = ((await server.gql(op.text, {}, secret)).errors ?? []).map((e) => e.extensions?.code);
      if (codes.includes('FORBIDDEN') || codes.includes('INTERNAL_SERVER_ERROR'))
        wrong.push(`${op.name} answered ${codes.join(', ')}`);
    }
    expect(wrong).toEqual([]);
    expect(await fingerprint()).toBe(before);
    expect(operations('Mutation', true).length).toBeGreaterThan(20);
  });

  it("RATING: everything but the switch's calls is refused, and a reseller's key rates nothing", async () => {
    const secret = await scoped('RATING');
    const before = await fingerprint();
    const wrong: string[] = [];
    for (const op of [...operations('Query', true), ...operations('Mutation', true)]) {
      const codes = ((await server.gql(op.text, {}, secret)).errors ?? []).map((e) => e.extensions?.code);
      const refused = codes.includes('FORBIDDEN');
      // Rating is the platform's (DOMAIN.md 5): the scope lets the call through, the reseller's role does not.
      const expected = op.name !== 'authorizeCall';
      if (refused !== expected) wrong.push(`${op.name}: ${codes.join(', ') || 'allowed'}`);
    }
    expect(wrong).toEqual([]);
    expect(await fingerprint()).toBe(before);
  });
});
