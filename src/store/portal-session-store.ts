import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../infra/redis';
import type { ApiKeyId, TenantId } from '../domain/ids';
import { mintApiKeyId } from '../domain/ids';
import type { RedisKeys } from './redis-keys';

/** What a portal session token resolves to. `keyId` names the session (`key_…`), so request logs can tell them apart. */
export interface PortalSessionPrincipal {
  readonly tenantId: TenantId;
  readonly keyId: ApiKeyId;
  readonly portal: true;
}

interface StoredSession {
  readonly tenantId: TenantId;
  readonly keyId: ApiKeyId;
  readonly expiresAt: string;
  /** When it was minted; a revocation of the tenant's links ends every session minted at or before it. */
  readonly createdAt?: string;
  /** The tenant API key that minted the session (none when the admin did): revoking it ends the session. */
  readonly mintedBy?: ApiKeyId;
  /** The tenant's `createdAt` when the session was minted: a tenant deleted and created again is another tenant. */
  readonly tenantCreatedAt?: string;
}

/** Where a session came from; it is valid only while both still hold. */
export interface PortalSessionOrigin {
  readonly mintedBy?: ApiKeyId;
  readonly tenantCreatedAt: string;
}

/** Tokens of portal sessions start with this, so the auth hook knows which store to ask. */
export const PORTAL_TOKEN_PREFIX = 'wps_';

/**
 * Short-lived, tenant-scoped tokens behind the tenant portal's sign-in links. Like API keys they are 32 random
 * bytes stored only as their SHA-256; unlike them each one expires: Redis drops the key at the expiry, and
 * {@link resolve} also checks the stored time, so a session is refused from its expiry on even before Redis
 * evicts it.
 */
export class PortalSessionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(
    tenantId: TenantId,
    ttlSeconds: number,
    origin: PortalSessionOrigin,
  ): Promise<{ token: string; expiresAt: string }> {
    const token = `${PORTAL_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const now = this.now().getTime();
    const expiresAt = new Date(now + ttlSeconds * 1000).toISOString();
    const session: StoredSession = {
      tenantId,
      keyId: mintApiKeyId(randomBytes(8).toString('hex')),
      expiresAt,
      createdAt: new Date(now).toISOString(),
      ...(origin.mintedBy !== undefined ? { mintedBy: origin.mintedBy } : {}),
      tenantCreatedAt: origin.tenantCreatedAt,
    };
    await this.redis.set(this.keys.portalSession(digest(token)), JSON.stringify(session), 'EX', ttlSeconds);
    return { token, expiresAt };
  }

  /**
   * The tenant a presented session token acts for, or undefined for an unknown or expired one, or one whose origin
   * no longer holds (`stillValid`: the minting key still exists, the tenant is the same one).
   */
  async resolve(
    token: string,
    stillValid: (tenantId: TenantId, origin: PortalSessionOrigin) => Promise<boolean>,
  ): Promise<PortalSessionPrincipal | undefined> {
    if (!token.startsWith(PORTAL_TOKEN_PREFIX)) return undefined;
    const raw = await this.redis.get(this.keys.portalSession(digest(token)));
    if (raw === null) return undefined;
    const session = JSON.parse(raw) as StoredSession;
    if (Date.parse(session.expiresAt) <= this.now().getTime()) return undefined;
    const revokedBefore = await this.redis.get(this.keys.portalSessionsRevoked(session.tenantId));
    // A session from before `createdAt` was recorded counts as minted at the epoch: any revocation ends it.
    if (revokedBefore !== null && Date.parse(session.createdAt ?? '1970-01-01T00:00:00Z') <= Number(revokedBefore)) {
      return undefined;
    }
    // Sessions minted before the origin was recorded have none to check, and expire within a day.
    if (session.tenantCreatedAt !== undefined) {
      const origin = {
        ...(session.mintedBy !== undefined ? { mintedBy: session.mintedBy } : {}),
        tenantCreatedAt: session.tenantCreatedAt,
      };
      if (!(await stillValid(session.tenantId, origin))) return undefined;
    }
    return { tenantId: session.tenantId, keyId: session.keyId, portal: true };
  }

  /**
   * Ends every portal session of the tenant minted until now (the tenant's "sign out everywhere"). Kept for the
   * longest session lifetime, after which every session it covers has expired anyway.
   *
   * @param maxTtlSeconds the longest lifetime a session can be minted with.
   * @returns the revocation time (ISO-8601): sessions minted at or before it are refused.
   */
  async revokeAll(tenantId: TenantId, maxTtlSeconds: number): Promise<string> {
    const now = this.now().getTime();
    await this.redis.set(this.keys.portalSessionsRevoked(tenantId), String(now), 'EX', maxTtlSeconds + 60);
    return new Date(now).toISOString();
  }

  /** Ends one session (the portal's "Sign out"); resolves false when it had already ended. */
  async end(token: string): Promise<boolean> {
    if (!token.startsWith(PORTAL_TOKEN_PREFIX)) return false;
    return (await this.redis.del(this.keys.portalSession(digest(token)))) === 1;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
