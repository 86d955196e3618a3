import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Config } from '../config.js';
import type { Actor, Context } from '../context.js';
import { requireActor } from '../context.js';
import { systemEm, type Em, type Orm } from '../db/orm.js';
import { Account, AccountKind, ApiKey } from '../entities/index.js';
import { DomainError, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { findPage, type Page, type PageArgs } from './pagination.js';
import { verifyPassword } from './passwords.js';
import { requireText } from './validate.js';

const API_KEY_PREFIX = 'trk_';
/** lastUsedAt is a hint for operators, not an audit log: write it at most once a minute per key. */
const LAST_USED_RESOLUTION_MS = 60_000;

const invalidCredentials = () => new DomainError('UNAUTHENTICATED', 'Invalid email or password');
const invalidToken = () => new DomainError('UNAUTHENTICATED', 'Invalid or expired credentials');

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

interface ActorRow {
  id: string;
  kind: AccountKind;
  path: string;
  root_id: string;
  rate_group_id: string | null;
  usable: boolean;
}

export class AuthService {
  /** Built once: given the secret as a string, jsonwebtoken builds a key object on every sign and verify. */
  private readonly jwtKey: KeyObject;

  constructor(
    private readonly config: Config,
    private readonly orm: Orm,
  ) {
    this.jwtKey = createSecretKey(Buffer.from(config.jwtSecret, 'utf8'));
  }

  /**
   * Runs outside any caller's scope (it has to find the account by email), so it must not share a request
   * transaction: the request scope only opens after it, as the account that just logged in.
   */
  async login(ctx: Context, email: string, password: string): Promise<{ token: string; account: Account }> {
    if (ctx.transactionStarted) {
      throw new DomainError('BAD_USER_INPUT', 'Send login as a request of its own', { field: 'login' });
    }
    const em = systemEm(this.orm);
    const account = await em.findOne(
      Account,
      { email: email.trim().toLowerCase() },
      { populate: ['passwordHash'] },
    );
    const ok = await verifyPassword(account?.passwordHash, password);
    if (!account || !ok) throw invalidCredentials();
    const actor = await this.loadActor(em, account.id, 'token');
    if (!actor) throw invalidCredentials();
    ctx.bindActor(actor);
    return { token: this.sign(account.id), account };
  }

  sign(accountId: string): string {
    return jwt.sign({}, this.jwtKey, {
      algorithm: 'HS256',
      subject: accountId,
      issuer: this.config.jwtIssuer,
      audience: this.config.jwtAudience,
      expiresIn: this.config.jwtTtl as jwt.SignOptions['expiresIn'],
    });
  }

  /**
   * Resolves "Bearer <JWT or API key>" to the acting account. A missing header is anonymous (null); a header
   * that does not verify is UNAUTHENTICATED, so a client with a stale token learns it instead of seeing less.
   */
  async authenticate(authorization: string | undefined | null): Promise<Actor | null> {
    if (!authorization) return null;
    const em = systemEm(this.orm);
    const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!m) throw invalidToken();
    const credential = m[1];
    if (credential.startsWith(API_KEY_PREFIX)) return this.authenticateApiKey(em, credential);
    let accountId: string;
    try {
      const claims = jwt.verify(credential, this.jwtKey, {
        algorithms: ['HS256'],
        issuer: this.config.jwtIssuer,
        audience: this.config.jwtAudience,
      }) as jwt.JwtPayload;
      if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') throw invalidToken();
      accountId = claims.sub;
    } catch {
      throw invalidToken();
    }
    const actor = await this.loadActor(em, accountId, 'token');
    if (!actor) throw invalidToken();
    return actor;
  }

  private async authenticateApiKey(em: Em, secret: string): Promise<Actor> {
    const [key] = await em.execute<{ id: string; account_id: string; last_used_at: Date | null }[]>(
      `select id, account_id, last_used_at from api_keys where key_hash = ? and revoked_at is null`,
      [sha256(secret)],
    );
    if (!key) throw invalidToken();
    const actor = await this.loadActor(em, key.account_id, 'apiKey');
    if (!actor) throw invalidToken();
    const now = Date.now();
    if (!key.last_used_at || now - new Date(key.last_used_at).getTime() > LAST_USED_RESOLUTION_MS) {
      await em.execute(`update api_keys set last_used_at = ? where id = ?`, [new Date(now), key.id]);
    }
    return { ...actor, apiKeyId: key.id };
  }

  /** The account, if it and every ancestor are ACTIVE: suspending a reseller locks out its whole subtree. */
  private async loadActor(em: Em, accountId: string, via: Actor['via']): Promise<Actor | null> {
    const [row] = await em.execute<ActorRow[]>(
      `select a.id, a.kind, a.path, a.root_id, a.rate_group_id,
              not exists (select 1 from accounts up
                           where starts_with(a.path, up.path) and up.status <> 'ACTIVE') as usable
         from accounts a where a.id = ?`,
      [accountId],
    );
    if (!row || !row.usable) return null;
    return { accountId: row.id, kind: row.kind, path: row.path, rootId: row.root_id, rateGroupId: row.rate_group_id, via };
  }

  async createApiKey(ctx: Context, name: string): Promise<{ secret: string; apiKey: ApiKey }> {
    requireActor(ctx);
    const keyName = requireText('name', name, 100);
    return ctx.mutate(async (em) => {
      const secret = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
      const apiKey = em.create(ApiKey, {
        id: newId('ApiKey'),
        accountId: ctx.actor.accountId,
        ownerPath: ctx.actor.path,
        name: keyName,
        keyHash: sha256(secret),
      });
      await em.flush();
      return { secret, apiKey };
    });
  }

  /** The key's owner or any ancestor of it may revoke it. */
  async revokeApiKey(ctx: Context, id: string): Promise<ApiKey> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      const apiKey = await em.findOne(ApiKey, { id });
      if (!apiKey) throw notFound('API key not found');
      if (!apiKey.revokedAt) {
        apiKey.revokedAt = new Date();
        await em.flush();
      }
      return apiKey;
    });
  }

  async findApiKey(ctx: Context, id: string): Promise<ApiKey | null> {
    requireActor(ctx);
    return ctx.em.findOne(ApiKey, { id });
  }

  /** The keys of one account in scope (the caller's by default), newest first. */
  async listApiKeys(ctx: Context, accountId: string | null | undefined, args: PageArgs): Promise<Page<ApiKey>> {
    requireActor(ctx);
    return findPage(ctx.em, ApiKey, { accountId: accountId ?? ctx.actor.accountId }, args, 'desc');
  }
}
