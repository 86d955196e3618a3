import { CreateAccountDocument, TopUpDocument, type CreateAccountInput } from '../generated/graphql.js';
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
