import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtConsoleDir } from '../src/http/console.js';
import { createPlatform, startServer, unique, type TestServer } from './support/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const inCI = process.env.CI === 'true';
const haveChromium = existsSync(CHROMIUM);
const shots = (name: string) => fileURLToPath(new URL(`../docs/img/${name}`, import.meta.url));
// Not one request may leave the machine: the console and the IDE must work on a closed network.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

if (!haveChromium && !inCI)
  console.warn(`console.browser.test: skipped, ${CHROMIUM} is missing (apt-get install -y chromium); CI fails instead`);

async function gql<T = any>(server: TestServer, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  return server.ok<T>(query, variables, token);
}

describe('console and IDE routes', () => {
  let server: TestServer;
  let closed: TestServer;
  beforeAll(async () => {
    [server, closed] = await Promise.all([startServer({ ideEnabled: true }), startServer({ ideEnabled: false })]);
  });
  afterAll(() => Promise.all([server?.close(), closed?.close()]));

  it('GET / leads to the console', async () => {
    const res = await fetch(`${server.url}/`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/console/');
  });

  it('GET /graphql answers a browser with the IDE and an API client with GraphQL', async () => {
    const page = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Trellis GraphQL IDE');
    const api = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: '*/*', 'apollo-require-preflight': 'true' },
    });
    expect(await api.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('with the IDE switched off a browser gets no page, and nothing from a CDN', async () => {
    const page = await fetch(`${closed.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(400);
    expect(await page.text()).not.toContain('<html');
  });
});

describe.skipIf(!haveChromium && !inCI)('console in a browser', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const offsite: string[] = [];
  let admin: { token: string };
  let reseller: { id: string; email: string; password: string; token: string };
  let customer: { id: string };

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt-get`);
    if (!existsSync(`${builtConsoleDir()}/index.html`)) throw new Error('the console is not built: run npm run build');
    server = await startServer({ ideEnabled: true });
    admin = await createPlatform(server);
    reseller = { id: '', email: `${unique('ops')}@acme.example`, password: 'vine-trellis-ledger-42', token: '' };
    reseller.id = (
      await gql(
        server,
        'mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }',
        {
          input: {
            kind: 'RESELLER',
            name: 'Acme Telecom',
            email: reseller.email,
            password: reseller.password,
            resellerModel: 'MARGIN',
          },
        },
        admin.token,
      )
    ).createAccount.id;
    const token = (
      await gql(server, 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }', {
        e: reseller.email,
        p: reseller.password,
      })
    ).login.token;
    reseller.token = token;
    customer = (
      await gql(
        server,
        'mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }',
        {
          input: {
            parentId: reseller.id,
            kind: 'CUSTOMER',
            name: "Bob's Bakery",
            billingMode: 'PREPAID',
            lowBalanceThreshold: '10',
          },
        },
        token,
      )
    ).createAccount;
    await gql(
      server,
      'mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }',
      {
        input: { parentId: reseller.id, kind: 'CUSTOMER', name: 'Corner Café', billingMode: 'POSTPAID', creditLimit: '50' },
      },
      token,
    );
    for (const [amount, description] of [
      ['25.5', 'card payment'],
      ['40', 'wire transfer'],
      ['12.25', 'card payment'],
    ]) {
      await gql(
        server,
        'mutation($input: BalanceChangeInput!) { topUp(input: $input) { id } }',
        { input: { accountId: customer.id, amount, description } },
        token,
      );
    }

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage({ viewport: { width: 1200, height: 720 } });
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(server.url) && !/^(data|blob):/.test(url)) offsite.push(url);
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A top-up from a second client: the admin's token over plain HTTP, not through the browser. */
  async function topUpFromElsewhere(accountId: string, amount: string, description = 'wire transfer') {
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}` },
      body: JSON.stringify({
        query: 'mutation($input: BalanceChangeInput!) { topUp(input: $input) { balanceAfter } }',
        variables: { input: { accountId, amount, description } },
      }),
    });
    expect((await res.json()).errors).toBeUndefined();
  }

  it('logs in, shows the balance, and follows a top-up made elsewhere without a reload', async () => {
    await page.goto(`${server.url}/`);
    expect(new URL(page.url()).pathname).toBe('/console/');
    await page.fill('input[name=email]', reseller.email);
    await page.fill('input[name=password]', reseller.password);
    await page.click('button[type=submit]');

    const balance = page.locator(`[data-account="${reseller.id}"][data-field="balance"]`);
    await expect.poll(() => balance.textContent()).toBe('0.00 USD');
    await page.locator('.live.on').waitFor();
    // The socket is up; give the subscription itself a moment to be registered by the server.
    await page.waitForTimeout(500);
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));

    await topUpFromElsewhere(reseller.id, '42.5');
    await expect.poll(() => balance.textContent(), { timeout: 10_000 }).toBe('42.50 USD');
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await expect
      .poll(() => page.locator(`[data-account="${customer.id}"][data-field="balance"]`).textContent())
      .toBe('77.75 USD');
    await page.waitForTimeout(2500); // the highlight of the changed balance fades
    await page.screenshot({ path: shots('console-tree.png') });
  });

  it('shows an account ledger that takes new entries as they are written, and alerts as they are raised', async () => {
    await page.click(`a[href="#/accounts/${customer.id}"]`);
    await page.locator('table.list tbody tr').nth(2).waitFor();
    expect(await page.locator('table.list tbody tr').count()).toBe(3);

    // Spending to 5 of a 10 threshold raises LOW_BALANCE, pushed to the console.
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}` },
      body: JSON.stringify({
        query: 'mutation($input: BalanceChangeInput!) { adjustBalance(input: $input) { id } }',
        variables: { input: { accountId: customer.id, amount: '-72.75', description: 'equipment' } },
      }),
    });
    expect((await res.json()).errors).toBeUndefined();
    await expect.poll(() => page.locator('table.list tbody tr').count(), { timeout: 10_000 }).toBe(4);
    await expect.poll(() => page.locator('dd [data-field="balance"]').textContent()).toBe('5.00 USD');
    await page.locator('header .badge').waitFor();
    await page.mouse.move(0, 700);
    await page.waitForTimeout(2500);
    await page.screenshot({ path: shots('console-ledger.png') });

    await page.click('a[href="#/alerts"]');
    await page.locator('tr.fresh').waitFor();
    expect(await page.locator('tr.fresh .alert').textContent()).toBe('low balance');
    await page.screenshot({ path: shots('console-alerts.png') });
  });

  it('lists the numbers an account holds, and when a number on hold is free again', async () => {
    // Ofcom's numbers for drama: never anyone's line.
    const ADD = 'mutation($input: AddDidsInput!) { addDids(input: $input) { id } }';
    await gql(
      server,
      ADD,
      { input: { numbers: ['+44 20 7946 0018', '+44 20 7946 0342'], country: 'GB', tags: ['london', 'geo'] } },
      admin.token,
    );
    await gql(server, ADD, { input: { numbers: ['+44 161 496 0017'], country: 'GB', tags: ['manchester'] } }, admin.token);
    /** A package of the root's, resold by the reseller and assigned to the customer: the subscription's id. */
    async function subscribe(input: Record<string, unknown>) {
      const { createPackage } = await gql(
        server,
        'mutation($input: CreatePackageInput!) { createPackage(input: $input) { id } }',
        { input: { price: '1', resellerCanResell: true, canBePurchased: false, ...input } },
        admin.token,
      );
      const { optIn } = await gql(
        server,
        'mutation($p: ID!) { optIn(input: { packageId: $p }) { id } }',
        { p: createPackage.id },
        reseller.token,
      );
      const { assignPackage } = await gql(
        server,
        'mutation($a: ID!, $p: ID!) { assignPackage(input: { accountId: $a, packageId: $p }) { id } }',
        { a: customer.id, p: optIn.id },
        reseller.token,
      );
      return assignPackage.id as string;
    }
    // The reseller claims for its customer, as an ancestor may.
    const claim = async (subscriptionId: string) =>
      (
        await gql(
          server,
          'mutation($s: ID!) { claimDid(subscriptionId: $s) { number status } }',
          { s: subscriptionId },
          reseller.token,
        )
      ).claimDid;
    const lines = await subscribe({ name: 'London lines', didQuantity: 2, allowedDidTags: ['london'] });
    expect(await claim(lines)).toEqual({ number: '442079460018', status: 'ASSIGNED' });
    expect(await claim(lines)).toEqual({ number: '442079460342', status: 'ASSIGNED' });
    const ended = await subscribe({ name: 'Manchester line', didQuantity: 1, allowedDidTags: ['manchester'], didHoldDays: 30 });
    expect(await claim(ended)).toEqual({ number: '441614960017', status: 'ASSIGNED' });
    await gql(server, 'mutation($id: ID!) { terminateSubscription(id: $id) { id } }', { id: ended }, reseller.token);

    await page.click(`a[href="#/accounts/${customer.id}"]`);
    await page.click(`a[href="#/accounts/${customer.id}/numbers"]`);
    await page.locator('tr[data-did]').nth(2).waitFor();
    expect(await page.locator('.tabs a.active').textContent()).toBe('Numbers');
    const rows = await page
      .locator('tr[data-did]')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    // Lowest first; only the number on hold has a date.
    expect(rows.map((r) => r.slice(0, 4))).toEqual([
      ['441614960017', 'on hold', 'manchester', 'GB'],
      ['442079460018', 'assigned', 'londongeo', 'GB'],
      ['442079460342', 'assigned', 'londongeo', 'GB'],
    ]);
    const holdYear = String(new Date(Date.now() + 30 * 86_400_000).getFullYear());
    expect(rows[0][4]).toContain(holdYear);
    expect(rows.slice(1).map((r) => r[4])).toEqual(['—', '—']);
    expect(await page.locator('.pager').textContent()).toContain('3 in all');

    await page.mouse.move(0, 700);
    await page.waitForTimeout(500);
    await page.screenshot({ path: shots('console-numbers.png') });
  });

  it('shows the calls an account has in progress, and drops one when the switch rates it', async () => {
    const group = async (token: string, ratePerMinute: string) =>
      (
        await gql(
          server,
          'mutation($r: [RateInput!]!) { createRateGroup(input: { name: "open calls", rates: $r }) { id } }',
          { r: [{ prefix: '44', ratePerMinute }] },
          token,
        )
      ).createRateGroup.id as string;
    const update = 'mutation($id: ID!, $input: UpdateAccountInput!) { updateAccount(id: $id, input: $input) { id } }';
    await gql(server, update, { id: reseller.id, input: { rateGroupId: await group(admin.token, '0.01') } }, admin.token);
    await gql(
      server,
      update,
      { id: customer.id, input: { rateGroupId: await group(reseller.token, '0.02'), maxConcurrentCalls: 5 } },
      reseller.token,
    );
    await gql(
      server,
      'mutation($a: ID!) { topUp(input: { accountId: $a, amount: "100" }) { id } }',
      { a: reseller.id },
      admin.token,
    );
    const start = (callId: string, destination: string, maxDurationSeconds: number) =>
      gql(
        server,
        'mutation($input: StartCallInput!) { startCall(input: $input) { allowed } }',
        { input: { accountId: customer.id, callId, destination, direction: 'OUTBOUND', maxDurationSeconds } },
        admin.token,
      );
    expect((await start('sw1-0001', '442079460123', 3600)).startCall.allowed).toBe(true);
    expect((await start('sw1-0002', '441614960456', 1800)).startCall.allowed).toBe(true);

    // The previous test left the customer's Numbers tab open.
    await page.click(`a[href="#/accounts/${customer.id}/open-calls"]`);
    await page.locator('tr[data-call]').nth(1).waitFor();
    expect(await page.locator('.tabs a.active').textContent()).toBe('Open calls');
    expect(await page.locator('[data-open-count]').textContent()).toBe('2 open of at most 5 at once');
    const rows = await page
      .locator('tr[data-call]')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1, 5).map((td) => td.textContent)));
    expect(rows).toEqual([
      ['sw1-0001', '442079460123', 'outbound', '60:00'],
      ['sw1-0002', '441614960456', 'outbound', '30:00'],
    ]);
    await page.mouse.move(0, 700);
    await page.waitForTimeout(500);
    await page.screenshot({ path: shots('console-open-calls.png') });

    // The switch rates the first call: its lease ends, and the list follows the usage posted.
    await gql(
      server,
      'mutation($input: CallInput!) { rateCall(input: $input) { id } }',
      {
        input: {
          accountId: customer.id,
          callId: 'sw1-0001',
          destination: '442079460123',
          direction: 'OUTBOUND',
          durationSeconds: 95,
          startedAt: new Date().toISOString(),
        },
      },
      admin.token,
    );
    await expect.poll(() => page.locator('tr[data-call]').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator('[data-open-count]').textContent()).toBe('1 open of at most 5 at once');
  });

  it('serves the IDE from the server, with the console login as its credential', async () => {
    await page.goto(`${server.url}/graphql?query=${encodeURIComponent('{\n  me {\n    id\n    name\n    balance\n  }\n}\n')}`);
    await expect.poll(() => page.locator('.graphiql-query-editor').textContent(), { timeout: 15_000 }).toContain('balance');
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => page.locator('.graphiql-response').textContent(), { timeout: 15_000 }).toContain(reseller.id);
    await page.screenshot({ path: shots('ide.png') });
    expect(offsite).toEqual([]);
  });
});
