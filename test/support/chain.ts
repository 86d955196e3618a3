import { CreatePackageDocument, OptInDocument, type CreatePackageInput, type OptInInput } from '../generated/graphql.js';
import type { TestServer } from './harness.js';

export async function original(server: TestServer, token: string, input: Partial<CreatePackageInput> = {}) {
  const { createPackage } = await server.ok(
    CreatePackageDocument,
    { input: { name: 'Pkg', price: '10', resellerCanResell: true, canBePurchased: true, ...input } },
    token,
  );
  return createPackage.id;
}

export async function optIn(server: TestServer, token: string, packageId: string, input: Partial<OptInInput> = {}) {
  const { optIn: clone } = await server.ok(OptInDocument, { input: { packageId, resellerCanResell: true, ...input } }, token);
  return clone.id;
}
