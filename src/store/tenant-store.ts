import type { RedisClient } from '../infra/redis';
import type { RetryPolicySpec } from '../domain/endpoint';
import { ConflictError, NotFoundError } from '../domain/errors';
import type { TenantId } from '../domain/ids';
import type { RedisKeys } from './redis-keys';

export interface Tenant {
  readonly id: TenantId;
  readonly name?: string;
  /** Default retry policy for the tenant's endpoints. */
  readonly retryPolicy?: RetryPolicySpec;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly createdAt: string;
}

export interface TenantInput {
  name?: string;
  retryPolicy?: RetryPolicySpec;
  metadata?: Record<string, string>;
}

/** Tenants in Redis: a set of ids and one JSON record each. */
export class TenantStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(id: TenantId, input: TenantInput): Promise<Tenant> {
    const tenant: Tenant = { id, ...input, createdAt: this.now().toISOString() };
    const reply = await this.redis
      .multi()
      .set(this.keys.tenant(id), JSON.stringify(tenant), 'NX')
      .sadd(this.keys.tenants(), id)
      .exec();
    if (reply?.[0]?.[1] !== 'OK') throw new ConflictError(`tenant ${id} already exists`);
    return tenant;
  }

  /** Returns the tenant, creating it with defaults when it does not exist yet. */
  async ensure(id: TenantId): Promise<Tenant> {
    const existing = await this.get(id);
    if (existing) return existing;
    try {
      return await this.create(id, {});
    } catch (err) {
      if (err instanceof ConflictError) return (await this.get(id)) as Tenant;
      throw err;
    }
  }

  async get(id: TenantId): Promise<Tenant | undefined> {
    const raw = await this.redis.get(this.keys.tenant(id));
    return raw === null ? undefined : (JSON.parse(raw) as Tenant);
  }

  async require(id: TenantId): Promise<Tenant> {
    const tenant = await this.get(id);
    if (!tenant) throw new NotFoundError(`tenant ${id} not found`);
    return tenant;
  }

  async getRetryPolicy(id: TenantId): Promise<RetryPolicySpec | undefined> {
    return (await this.get(id))?.retryPolicy;
  }

  /** All tenant ids, sorted. Tenants number in the thousands at most, so one SMEMBERS is fine. */
  async list(): Promise<Tenant[]> {
    // The set holds only ids that were parsed before they were added.
    const ids = (await this.redis.smembers(this.keys.tenants())).sort() as TenantId[];
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(...ids.map((id) => this.keys.tenant(id)));
    return raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as Tenant);
  }

  async delete(id: TenantId): Promise<void> {
    const reply = await this.redis.multi().del(this.keys.tenant(id)).srem(this.keys.tenants(), id).exec();
    if (reply?.[0]?.[1] !== 1) throw new NotFoundError(`tenant ${id} not found`);
  }
}
