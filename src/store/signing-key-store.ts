import type { Result } from 'ioredis';
import type { RedisClient } from '../infra/redis';
import { ConflictError } from '../domain/errors';
import type { TenantId } from '../domain/ids';
import type { AsymmetricSigningKey, Ed25519PublicJwk } from '../security/ed25519';
import { generateSigningKeyPair, publicJwk, standardWebhooksPublicKey } from '../security/ed25519';
import type { SecretBox } from '../security/secret-box';
import type { RedisKeys } from './redis-keys';

/** One stored key pair: the public half in the clear, the private half sealed to its tenant and kid. */
interface StoredSigningKey {
  readonly kid: string;
  /** Base64url of the 32 raw public key bytes (the JWK's `x`). */
  readonly x: string;
  /** AES-GCM ciphertext of the base64 PKCS#8 private key. */
  readonly sealed: string;
  readonly createdAt: string;
  /** Set on a key that was rotated out: it keeps signing, and stays in the JWKS, until then. */
  readonly expiresAt?: string;
}

interface StoredSigningKeys {
  /** Newest first. */
  readonly keys: readonly StoredSigningKey[];
}

/** A signing key as the API shows it: never the private half. */
export interface PublicSigningKey {
  readonly kid: string;
  /** The Standard Webhooks serialisation, `whpk_` + base64 of the raw key. */
  readonly publicKey: string;
  readonly jwk: Ed25519PublicJwk;
  readonly createdAt: string;
  readonly expiresAt?: string;
}

/** Replaces KEYS[1] with ARGV[2] if it still holds ARGV[1] (`''` meaning absent): 1 replaced, 0 changed meanwhile. */
const REPLACE_SIGNING_KEYS_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wssReplaceSigningKeys(key: string, expected: string, replacement: string): Result<number, Context>;
  }
}

/** Compare-and-set rounds before a rotation gives up with a 409 (two rotations of one tenant at once). */
const MAX_CAS_ROUNDS = 20;

/**
 * Each tenant's ed25519 key pairs for `v1a` signatures, in one Redis record per tenant. Private keys are sealed
 * with the secret box (bound to tenant and kid) the moment they are generated; the only way to read one is
 * {@link activeSigningKeys}, which the delivery activity and the dry run call when they sign. Everything else
 * returns {@link PublicSigningKey}s.
 */
export class SigningKeyStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly box: SecretBox,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.redis.defineCommand('wssReplaceSigningKeys', { numberOfKeys: 1, lua: REPLACE_SIGNING_KEYS_SCRIPT });
  }

  /** The tenant's keys valid now, newest first; empty when it has none. Creates nothing. */
  async publicKeys(tenantId: TenantId): Promise<PublicSigningKey[]> {
    return this.active((await this.read(tenantId)).stored).map(toPublic);
  }

  /** The tenant's keys, creating its first key pair when it has none valid now. */
  async ensure(tenantId: TenantId): Promise<PublicSigningKey[]> {
    const keys = await this.change(tenantId, (active) => (active.length > 0 ? undefined : [this.generate(tenantId)]));
    return keys.map(toPublic);
  }

  /**
   * Makes a new key pair current. The previous keys keep signing, and stay in the JWKS, until `graceMs` from now, so
   * receivers can pick up the new key without dropping a delivery. Keys rotated out before (still in their grace, or
   * past it) are dropped at once: at most two keys sign at any time.
   */
  async rotate(tenantId: TenantId, graceMs: number): Promise<{ current: PublicSigningKey; validUntil: string }> {
    const validUntil = new Date(this.now().getTime() + graceMs).toISOString();
    // At most two keys sign: the new one and the one it replaces. A key already rotated out ends now, so that
    // rotations in a row cannot grow every delivery's signatures (and the JWKS) without bound.
    const keys = await this.change(tenantId, (active) => [
      this.generate(tenantId),
      ...active.filter((k) => k.expiresAt === undefined).map((k) => ({ ...k, expiresAt: validUntil })),
    ]);
    return { current: toPublic(keys[0]!), validUntil };
  }

  /** The private keys valid now, newest first, decrypted. Call only where a request is being signed. */
  async activeSigningKeys(tenantId: TenantId): Promise<AsymmetricSigningKey[]> {
    return this.active((await this.read(tenantId)).stored).map((k) => ({
      kid: k.kid,
      privateKey: this.box.open(k.sealed, owner(tenantId, k.kid)),
    }));
  }

  /** Removes every key of a tenant; used when the tenant is deleted. */
  async deleteAll(tenantId: TenantId): Promise<void> {
    await this.redis.del(this.keys.tenantSigningKeys(tenantId));
  }

  private generate(tenantId: TenantId): StoredSigningKey {
    const pair = generateSigningKeyPair();
    return {
      kid: pair.kid,
      x: pair.x,
      sealed: this.box.seal(pair.privateKey, owner(tenantId, pair.kid)),
      createdAt: this.now().toISOString(),
    };
  }

  /**
   * Replaces the tenant's active keys with `next(active)` (undefined: keep them), atomically against concurrent
   * changes from other processes. Returns the keys valid afterwards.
   */
  private async change(
    tenantId: TenantId,
    next: (active: StoredSigningKey[]) => StoredSigningKey[] | undefined,
  ): Promise<StoredSigningKey[]> {
    const key = this.keys.tenantSigningKeys(tenantId);
    for (let round = 0; round < MAX_CAS_ROUNDS; round += 1) {
      const { raw, stored } = await this.read(tenantId);
      const active = this.active(stored);
      const keys = next(active);
      if (keys === undefined) return active;
      const replacement: StoredSigningKeys = { keys };
      if ((await this.redis.wssReplaceSigningKeys(key, raw, JSON.stringify(replacement))) === 1) return keys;
    }
    throw new ConflictError(`signing keys of tenant ${tenantId} are being changed concurrently; try again`);
  }

  private async read(tenantId: TenantId): Promise<{ raw: string; stored: readonly StoredSigningKey[] }> {
    const raw = (await this.redis.get(this.keys.tenantSigningKeys(tenantId))) ?? '';
    return { raw, stored: raw === '' ? [] : (JSON.parse(raw) as StoredSigningKeys).keys };
  }

  private active(stored: readonly StoredSigningKey[]): StoredSigningKey[] {
    const now = this.now().getTime();
    return stored.filter((k) => k.expiresAt === undefined || Date.parse(k.expiresAt) > now);
  }
}

function toPublic(key: StoredSigningKey): PublicSigningKey {
  return {
    kid: key.kid,
    publicKey: standardWebhooksPublicKey(key.x),
    jwk: publicJwk(key.kid, key.x),
    createdAt: key.createdAt,
    ...(key.expiresAt !== undefined ? { expiresAt: key.expiresAt } : {}),
  };
}

/** Binds a sealed private key to its tenant and kid: copied onto another tenant's record, it does not open. */
function owner(tenantId: TenantId, kid: string): string {
  return `${tenantId}/signing-key/${kid}`;
}
