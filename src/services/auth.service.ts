import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.js';
import { requireActor, type Actor, type ApiKeyScope, type Request } from '../request.js';
import { systemEm, textArray, type Em, type Orm } from '../db/orm.js';
import { Account, ApiKey } from '../entities/index.js';
import { badInput, DomainError, forbidden, notFound } from '../errors.js';
import type { CredentialChange } from '../events.js';
import {
  announceCredentialChange,
  endTokensOf,
  endTokensUnder,
  findCredential,
  findPasswordHash,
  type Credential,
  type CredentialRow,
} from '../accounts/credentials.js';
import { newId } from '../ids.js';
import { findPage, type Page, type PageArgs } from './pagination.js';
import { verifyPassword } from './passwords.js';
import type { ThrottleService } from './throttle.service.js';
import { requireText } from './validate.js';

/** Managing credentials (keys, password, email) needs a login: an API key cannot mint or change them. */
export function requireLoginToken(ctx: Request & { actor: Actor }, what: string): void {
  if (ctx.actor.via !== 'token') throw forbidden(`Log in to ${what}: an API key cannot`);
}

const API_KEY_PREFIX = 'trk_';

const invalidCredentials = () => new DomainError('UNAUTHENTICATED', 'Invalid email or password');
const invalidToken = () => new DomainError('UNAUTHENTICATED', 'Invalid or expired credentials');

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export class AuthService {
  /** Built once: given the secret as a string, jsonwebtoken builds a key object on every sign and verify. */
  private readonly jwtKey: KeyObject;
  /**
   * Tokens whose signature and claims were verified, until they expire: a client sends the same token with every
   * request, and verifying it again costs an HMAC and two JSON parses each time. What a token may do is still
   * read from the database on every request (its version, the account's status).
   */
  private readonly verified = new LRUCache<string, { credential: Credential; expiresAt: number }>({ max: 10_000 });
  /**
   * What an account's login tokens act as, from the last time its credential held: its kind, path and platform
   * never change, so a read can be planned for it before the credential is read again (Context.authenticate).
   * Only a hint: the credential's row still decides whether the read is answered.
   */
  private readonly tokenActors = new LRUCache<string, Actor>({ max: 10_000 });

  constructor(
    private readonly config: Config,
    private readonly orm: Orm,
    private readonly throttle: ThrottleService,
  ) {
    this.jwtKey = createSecretKey(Buffer.from(config.jwtSecret, 'utf8'));
  }

  /**
   * Runs outside any caller's scope (it has to find the account by email), so it must not share a request
   * transaction: the request scope only opens after it, as the account that just logged in.
   */
  async login(ctx: Request, email: string, password: string): Promise<{ token: string; account: Account }> {
    if (ctx.transactionStarted) {
      throw new DomainError('BAD_USER_INPUT', 'Send login as a request of its own', { field: 'login' });
    }
    const em = systemEm(this.orm);
    const normalized = email.trim().toLowerCase();
    await this.throttle.beforePasswordCheck(normalized, ctx.clientAddress);
    const account = await em.findOne(Account, { email: normalized }, { populate: ['passwordHash'] });
    const ok = await verifyPassword(account?.passwordHash, password);
    const actor = account && ok ? await this.loadActor(em, account.id) : null;
    // The version is the one read with the hash just verified: a password change that committed during the
    // check must not yield a token that outlives it.
    if (!account || !actor || actor.tokenVersion !== account.tokenVersion) throw invalidCredentials();
    await this.throttle.passwordAccepted(normalized, ctx.clientAddress);
    ctx.bindActor(actor);
    return { token: this.sign(account.id, account.tokenVersion), account };
  }

  /** `ver` is the account's token version when signed: a later password change, suspension or deletion bumps it. */
  sign(accountId: string, tokenVersion = 0): string {
    return jwt.sign({ ver: tokenVersion }, this.jwtKey, {
      algorithm: 'HS256',
      subject: accountId,
      issuer: this.config.jwtIssuer,
      audience: this.config.jwtAudience,
      expiresIn: this.config.jwtTtl as jwt.SignOptions['expiresIn'],
    });
  }

  /**
   * Reads "Bearer <JWT or API key>" and checks what can be checked without the database: a JWT's signature,
   * expiry, issuer and audience. A missing header is anonymous (null); a header that does not verify is
   * UNAUTHENTICATED, so a client with a stale token learns it instead of seeing less.
   */
  verify(authorization: string | undefined | null): Credential | null {
    if (!authorization) return null;
    const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!m) throw invalidToken();
    const secret = m[1];
    if (secret.startsWith(API_KEY_PREFIX)) return { via: 'apiKey', keyHash: sha256(secret) };
    const known = this.verified.get(secret);
    if (known) {
      if (known.expiresAt > Date.now()) return known.credential;
      this.verified.delete(secret);
      throw invalidToken();
    }
    let claims: jwt.JwtPayload;
    try {
      claims = jwt.verify(secret, this.jwtKey, {
        algorithms: ['HS256'],
        issuer: this.config.jwtIssuer,
        audience: this.config.jwtAudience,
      }) as jwt.JwtPayload;
    } catch {
      throw invalidToken();
    }
    // The subject is an account id, written into the statement that opens a read (src/accounts/credentials.ts).
    if (typeof claims.sub !== 'string' || !/^[A-Za-z0-9_-]+$/.test(claims.sub) || typeof claims.exp !== 'number')
      throw invalidToken();
    if (claims.ver !== undefined && typeof claims.ver !== 'number') throw invalidToken();
    const credential: Credential = {
      via: 'token',
      accountId: claims.sub,
      version: (claims.ver as number | undefined) ?? 0,
    };
    this.verified.set(secret, { credential, expiresAt: claims.exp * 1000 });
    return credential;
  }

  /**
   * The actor a verified credential's row makes, or UNAUTHENTICATED: the account and every ancestor must be
   * ACTIVE, and a token must carry the account's current token version.
   */
  actorOf(credential: Credential, row: CredentialRow | undefined): Actor {
    if (!row?.usable) throw invalidToken();
    if (credential.via === 'token' && row.token_version !== credential.version) throw invalidToken();
    const actor: Actor = {
      accountId: row.id,
      kind: row.kind,
      path: row.path,
      rootId: row.root_id,
      rateGroupId: row.rate_group_id,
      via: credential.via,
      tokenVersion: row.token_version,
    };
    if (credential.via === 'token') this.tokenActors.set(actor.accountId, actor);
    if (credential.via === 'token' || !row.key_id) return actor;
    return { ...actor, apiKeyId: row.key_id, scopes: textArray(row.key_scopes ?? []) as ApiKeyScope[] };
  }

  /**
   * The actor a login token acted as when its account's credential last held, if this instance has seen it:
   * what it may be is still to be read (actorOf). Its rate group may have changed since.
   */
  expectedActor(credential: Credential): Actor | undefined {
    if (credential.via !== 'token') return undefined;
    const actor = this.tokenActors.get(credential.accountId);
    return actor && actor.tokenVersion === credential.version ? actor : undefined;
  }

  /** The token's credential no longer holds: its next requests read it before anything else (see expectedActor). */
  forgetExpectedActor(credential: Credential): void {
    if (credential.via === 'token' && this.expectedActor(credential)) this.tokenActors.delete(credential.accountId);
  }

  /**
   * The acting account of a credential, read on a connection of its own (graphql-ws, and the re-checks of a
   * subscription's credential). An HTTP request reads it as its transaction opens instead (Context.authenticate).
   */
  async authenticate(authorization: string | undefined | null): Promise<Actor | null> {
    const credential = this.verify(authorization);
    if (!credential) return null;
    return this.actorOf(credential, await findCredential(systemEm(this.orm), credential));
  }

  /** The account that just logged in, if it and every ancestor are ACTIVE. */
  private async loadActor(em: Em, accountId: string): Promise<Actor | null> {
    const credential: Credential = { via: 'token', accountId, version: 0 };
    const row = await findCredential(em, credential);
    if (!row?.usable) return null;
    return this.actorOf({ ...credential, version: row.token_version }, row);
  }

  async createApiKey(ctx: Request, name: string, scopes: ApiKeyScope[] = ['FULL']): Promise<{ secret: string; apiKey: ApiKey }> {
    requireActor(ctx);
    requireLoginToken(ctx, 'create API keys');
    const keyName = requireText('name', name, 100);
    if (scopes.length === 0) throw badInput('scopes', 'An API key needs at least one scope');
    return ctx.mutate(async (em) => {
      const secret = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
      const apiKey = em.create(ApiKey, {
        id: newId('ApiKey'),
        accountId: ctx.actor.accountId,
        ownerPath: ctx.actor.path,
        name: keyName,
        keyHash: sha256(secret),
        scopes: [...new Set(scopes)],
      });
      await em.flush();
      return { secret, apiKey };
    });
  }

  /** The key's owner or any ancestor of it may revoke it. */
  async revokeApiKey(ctx: Request, id: string): Promise<ApiKey> {
    requireActor(ctx);
    requireLoginToken(ctx, 'revoke API keys');
    return ctx.mutate(async (em) => {
      const apiKey = await em.findOne(ApiKey, { id });
      if (!apiKey) throw notFound('API key not found');
      if (!apiKey.revokedAt) {
        apiKey.revokedAt = new Date();
        await em.flush();
        await announceCredentialChange(em, { type: 'credentials', apiKeyId: apiKey.id });
      }
      return apiKey;
    });
  }

  /**
   * Ends credentials in the caller's transaction: tokens by bumping the token version they were signed
   * with, and open subscriptions on every instance by a notification delivered when the change commits.
   */
  async endCredentials(em: Em, change: CredentialChange): Promise<void> {
    if ('tokensOf' in change) await endTokensOf(em, change.tokensOf);
    if ('under' in change) await endTokensUnder(em, change.under);
    await announceCredentialChange(em, change);
  }

  /** Checks the current password before the caller changes its own. */
  /** Throttled like a login: a stolen token must not be a way to guess the password it would need to take over. */
  async verifyOwnPassword(em: Em, accountId: string, currentPassword: string | null | undefined, address: string): Promise<void> {
    if (!currentPassword) throw badInput('currentPassword', 'Changing your own password needs your current password');
    const subject = `account:${accountId}`;
    await this.throttle.beforePasswordCheck(subject, address);
    if (!(await verifyPassword(await findPasswordHash(em, accountId), currentPassword)))
      throw badInput('currentPassword', 'The current password is wrong');
    await this.throttle.passwordAccepted(subject, address);
  }

  async findApiKey(ctx: Request, id: string): Promise<ApiKey | null> {
    requireActor(ctx);
    return ctx.em.findOne(ApiKey, { id });
  }

  /** The keys of one account in scope (the caller's by default), newest first. */
  async listApiKeys(ctx: Request, accountId: string | null | undefined, args: PageArgs): Promise<Page<ApiKey>> {
    requireActor(ctx);
    return findPage(ctx.em, ApiKey, { accountId: accountId ?? ctx.actor.accountId }, args, 'desc');
  }
}
