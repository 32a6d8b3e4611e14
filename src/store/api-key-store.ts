import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../infra/redis';
import { NotFoundError } from '../domain/errors';
import type { ApiKeyId, TenantId } from '../domain/ids';
import { mintApiKeyId } from '../domain/ids';
import type { RedisKeys } from './redis-keys';

/** What is kept and listed about a key. The key itself is shown once, at creation. */
export interface ApiKeyRecord {
  readonly id: ApiKeyId;
  readonly tenantId: TenantId;
  readonly name?: string;
  /** First characters of the key, so an operator can tell keys apart. */
  readonly prefix: string;
  readonly createdAt: string;
}

interface StoredApiKey extends ApiKeyRecord {
  readonly digest: string;
}

/**
 * Per-tenant API keys. Keys are 32 random bytes, so a single SHA-256 is enough to store them (a slow password
 * hash protects low-entropy secrets; these are not). Lookup is one HGET by digest.
 */
export class ApiKeyStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(tenantId: TenantId, name?: string): Promise<{ record: ApiKeyRecord; key: string }> {
    const id = mintApiKeyId(randomBytes(8).toString('hex'));
    const key = `wsk_${randomBytes(32).toString('base64url')}`;
    const record: StoredApiKey = {
      id,
      tenantId,
      ...(name !== undefined ? { name } : {}),
      prefix: key.slice(0, 10),
      createdAt: this.now().toISOString(),
      digest: digest(key),
    };
    await this.redis
      .multi()
      .hset(this.keys.apiKeys(), record.digest, JSON.stringify({ tenantId, keyId: id }))
      .hset(this.keys.tenantApiKeys(tenantId), id, JSON.stringify(record))
      .exec();
    return { record: toPublic(record), key };
  }

  async list(tenantId: TenantId): Promise<ApiKeyRecord[]> {
    const all = await this.redis.hvals(this.keys.tenantApiKeys(tenantId));
    return all
      .map((raw) => toPublic(JSON.parse(raw) as StoredApiKey))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Whether the tenant still has the key `keyId` (not revoked): one HEXISTS, for checks on every request. */
  async exists(tenantId: TenantId, keyId: ApiKeyId): Promise<boolean> {
    return (await this.redis.hexists(this.keys.tenantApiKeys(tenantId), keyId)) === 1;
  }

  async revoke(tenantId: TenantId, keyId: ApiKeyId): Promise<void> {
    const raw = await this.redis.hget(this.keys.tenantApiKeys(tenantId), keyId);
    if (raw === null) throw new NotFoundError(`api key ${keyId} not found`);
    const stored = JSON.parse(raw) as StoredApiKey;
    await this.redis
      .multi()
      .hdel(this.keys.apiKeys(), stored.digest)
      .hdel(this.keys.tenantApiKeys(tenantId), keyId)
      .exec();
  }

  async revokeAll(tenantId: TenantId): Promise<void> {
    const all = await this.redis.hvals(this.keys.tenantApiKeys(tenantId));
    const tx = this.redis.multi();
    for (const raw of all) tx.hdel(this.keys.apiKeys(), (JSON.parse(raw) as StoredApiKey).digest);
    tx.del(this.keys.tenantApiKeys(tenantId));
    await tx.exec();
  }

  /** The tenant a presented key belongs to, or undefined for an unknown or revoked key. */
  async resolve(key: string): Promise<{ tenantId: TenantId; keyId: ApiKeyId } | undefined> {
    if (!key.startsWith('wsk_')) return undefined;
    const raw = await this.redis.hget(this.keys.apiKeys(), digest(key));
    return raw === null ? undefined : (JSON.parse(raw) as { tenantId: TenantId; keyId: ApiKeyId });
  }
}

function digest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function toPublic(stored: StoredApiKey): ApiKeyRecord {
  const { digest: _digest, ...record } = stored;
  return record;
}
