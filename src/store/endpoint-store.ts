import { randomBytes } from 'node:crypto';
import type { Result } from 'ioredis';
import type { RedisClient } from '../infra/redis';
import type { Endpoint, RetryPolicySpec, SignatureScheme, SignatureVersion } from '../domain/endpoint';
import { DEFAULT_SIGNATURE_VERSIONS } from '../domain/endpoint';
import { ConflictError, NotFoundError, ValidationError } from '../domain/errors';
import type { EndpointId, TenantId } from '../domain/ids';
import { mintEndpointId } from '../domain/ids';
import type { OrderingSpec } from '../domain/ordering';
import type { RedisKeys } from './redis-keys';
import type { SecretBox } from '../security/secret-box';
import type { EndpointCredentials } from '../domain/endpoint-auth';
import { authView } from '../security/endpoint-credentials';

/** Fields a caller may set on an endpoint. */
export interface EndpointInput {
  url: string;
  description?: string;
  eventTypes: readonly string[];
  enabled?: boolean;
  headers?: Record<string, string>;
  metadata?: Record<string, string>;
  // --- Flow control (issue 17) ---
  rateLimit?: number;
  rateLimitBurst?: number;
  maxInFlight?: number;
  adaptiveBackoff?: boolean;
  // --- end flow control ---
  retryPolicy?: RetryPolicySpec;
  filter?: unknown;
  transform?: string;
  signatureScheme?: SignatureScheme;
  signatureVersions?: readonly SignatureVersion[];
  sendTraceparent?: boolean;
  /** Endpoint authentication (sealed at rest, shown only as its view); `null` in a patch removes it. */
  auth?: EndpointCredentials | null;
  // --- ordered delivery (issue 17); null in a patch removes it
  ordering?: OrderingSpec | null;
}

export type EndpointPatch = Partial<EndpointInput>;

interface StoredSecret {
  /** AES-GCM ciphertext, bound to this endpoint. */
  readonly sealed: string;
  readonly createdAt: string;
  /** Set on a secret that was rotated out; it keeps signing until then. */
  readonly expiresAt?: string;
}

interface StoredEndpoint extends Endpoint {
  /** Newest first. */
  readonly secrets: readonly StoredSecret[];
  /** The endpoint's {@link EndpointCredentials} as JSON, AES-GCM sealed and bound to this endpoint. */
  readonly authSealed?: string;
}

export interface Page<T> {
  readonly items: T[];
  /** Opaque cursor for the next page; absent on the last page. */
  readonly nextCursor?: string;
}

export interface EndpointStoreOptions {
  redis: RedisClient;
  keys: RedisKeys;
  secretBox: SecretBox;
  /** Clock, injectable for tests. */
  now?: () => Date;
}

/**
 * Compare-and-set rounds before an update gives up with a 409. Within a process updates of one endpoint are
 * queued (see {@link KeyedQueue}), so a round is lost only to another process (another API replica, a worker's
 * health check); with a random back-off between rounds, 50 such collisions in a row do not happen in practice.
 */
const MAX_CAS_ROUNDS = 50;
/** Longest random pause between two compare-and-set rounds, in ms. */
const MAX_CAS_BACKOFF_MS = 20;

/**
 * Runs tasks one after another per key, in call order; tasks of different keys run concurrently. A key's queue is
 * forgotten when it runs empty.
 */
class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

/** Replaces KEYS[1] with ARGV[2] if it still holds ARGV[1]: 1 replaced, 0 changed meanwhile, -1 gone. */
const REPLACE_IF_UNCHANGED_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wssReplaceIfUnchanged(key: string, expected: string, replacement: string): Result<number, Context>;
  }
}

/**
 * Endpoints and their signing secrets in Redis. The public {@link Endpoint} shape never contains a secret; the
 * only ways to see one are the return values of {@link create} and {@link rotateSecret}, and
 * {@link loadSigningSecrets}, which the delivery activity calls at attempt time.
 */
export class EndpointStore {
  private readonly redis: RedisClient;
  private readonly keys: RedisKeys;
  private readonly box: SecretBox;
  private readonly now: () => Date;
  private readonly queue = new KeyedQueue();

  constructor(options: EndpointStoreOptions) {
    this.redis = options.redis;
    this.keys = options.keys;
    this.box = options.secretBox;
    this.now = options.now ?? (() => new Date());
    this.redis.defineCommand('wssReplaceIfUnchanged', { numberOfKeys: 1, lua: REPLACE_IF_UNCHANGED_SCRIPT });
  }

  /** Creates an endpoint. Returns it with its plaintext secret, which is never shown again. */
  async create(
    tenantId: TenantId,
    input: EndpointInput,
    secret: string,
  ): Promise<{ endpoint: Endpoint; secret: string }> {
    const now = this.now();
    const id = mintEndpointId(now, randomBytes(8).toString('hex'));
    const stamp = now.toISOString();
    const record: StoredEndpoint = {
      ...normalizeInput(input),
      id,
      tenantId,
      enabled: input.enabled ?? true,
      signatureScheme: input.signatureScheme ?? 'wss',
      signatureVersions: [...(input.signatureVersions ?? DEFAULT_SIGNATURE_VERSIONS)],
      sendTraceparent: input.sendTraceparent ?? false,
      createdAt: stamp,
      updatedAt: stamp,
      secrets: [{ sealed: this.box.seal(secret, owner(tenantId, id)), createdAt: stamp }],
      ...this.sealAuth(tenantId, id, input.auth),
    };
    const created = await this.redis
      .multi()
      .set(this.keys.endpoint(tenantId, id), JSON.stringify(record), 'NX')
      .zadd(this.keys.tenantEndpoints(tenantId), 0, id)
      .exec();
    if (created?.[0]?.[1] !== 'OK') throw new ConflictError(`endpoint ${id} already exists`);
    return { endpoint: toPublic(record), secret };
  }

  async get(tenantId: TenantId, endpointId: EndpointId): Promise<Endpoint | undefined> {
    const record = await this.getStored(tenantId, endpointId);
    return record && toPublic(record);
  }

  /** One page of a tenant's endpoints, oldest first (ids sort by creation time). */
  async list(tenantId: TenantId, options: { limit: number; cursor?: string }): Promise<Page<Endpoint>> {
    const after = options.cursor === undefined ? '-' : `(${decodeCursor(options.cursor)}`;
    const ids = await this.redis.zrangebylex(
      this.keys.tenantEndpoints(tenantId),
      after,
      '+',
      'LIMIT',
      0,
      options.limit + 1,
    );
    // The index holds only ids this store minted.
    const pageIds = ids.slice(0, options.limit) as EndpointId[];
    const records = await this.getMany(tenantId, pageIds);
    const last = pageIds[pageIds.length - 1];
    return {
      items: records.map(toPublic),
      ...(ids.length > options.limit && last !== undefined ? { nextCursor: encodeCursor(last) } : {}),
    };
  }

  /** Every endpoint of a tenant, for routing. Two round trips regardless of the count. */
  async listAll(tenantId: TenantId): Promise<Endpoint[]> {
    const ids = await this.endpointIds(tenantId);
    return (await this.getMany(tenantId, ids)).map(toPublic);
  }

  async update(tenantId: TenantId, endpointId: EndpointId, patch: EndpointPatch): Promise<Endpoint> {
    return this.mutate(tenantId, endpointId, (record) => ({
      // Optional fields are rebuilt from the merged input, so a field the patch clears (undefined) disappears.
      ...withoutOptionalFields(record),
      ...normalizeInput({ ...record, ...patch } as EndpointInput),
      enabled: patch.enabled ?? record.enabled,
      signatureScheme: patch.signatureScheme ?? record.signatureScheme,
      signatureVersions: [...(patch.signatureVersions ?? record.signatureVersions ?? DEFAULT_SIGNATURE_VERSIONS)],
      sendTraceparent: patch.sendTraceparent ?? record.sendTraceparent ?? false,
      ...(patch.enabled === true ? { disabledReason: undefined } : {}),
      // Absent: kept as it is; null: removed; given: replaced whole.
      ...(patch.auth !== undefined
        ? { auth: undefined, authSealed: undefined, ...this.sealAuth(tenantId, endpointId, patch.auth) }
        : {}),
    }));
  }

  /** The view and the sealed credentials of a record, or nothing. */
  private sealAuth(
    tenantId: TenantId,
    endpointId: EndpointId,
    credentials: EndpointCredentials | null | undefined,
  ): Pick<StoredEndpoint, 'auth' | 'authSealed'> {
    if (credentials === undefined || credentials === null) return {};
    return {
      auth: authView(credentials),
      authSealed: this.box.seal(JSON.stringify(credentials), authOwner(tenantId, endpointId)),
    };
  }

  /** Enables or disables an endpoint. `reason` records why the service disabled it (e.g. `gone`). */
  async setEnabled(tenantId: TenantId, endpointId: EndpointId, enabled: boolean, reason?: string): Promise<Endpoint> {
    return this.mutate(tenantId, endpointId, (record) => ({
      ...record,
      enabled,
      disabledReason: enabled ? undefined : reason,
    }));
  }

  async delete(tenantId: TenantId, endpointId: EndpointId): Promise<void> {
    const result = await this.redis
      .multi()
      .del(this.keys.endpoint(tenantId, endpointId))
      .zrem(this.keys.tenantEndpoints(tenantId), endpointId)
      .del(this.keys.endpointFailures(tenantId, endpointId))
      .exec();
    if (result?.[0]?.[1] !== 1) throw new NotFoundError(`endpoint ${endpointId} not found`);
  }

  /**
   * Makes `newSecret` the signing secret. The previous current secret keeps signing until `graceMs` from now, so
   * receivers can switch over without dropping deliveries; secrets already past their grace are dropped.
   */
  async rotateSecret(
    tenantId: TenantId,
    endpointId: EndpointId,
    newSecret: string,
    graceMs: number,
  ): Promise<Endpoint> {
    return this.mutate(tenantId, endpointId, (record) => {
      const now = this.now();
      const expiresAt = new Date(now.getTime() + graceMs).toISOString();
      const kept = record.secrets
        .filter((s) => s.expiresAt === undefined || Date.parse(s.expiresAt) > now.getTime())
        .map((s) => (s.expiresAt === undefined ? { ...s, expiresAt } : s));
      return {
        ...record,
        secrets: [
          { sealed: this.box.seal(newSecret, owner(tenantId, endpointId)), createdAt: now.toISOString() },
          ...kept,
        ],
      };
    });
  }

  /** Plaintext signing secrets that are valid now, newest first. Call only where a request is being signed. */
  async loadSigningSecrets(tenantId: TenantId, endpointId: EndpointId): Promise<string[]> {
    const record = await this.getStored(tenantId, endpointId);
    if (!record) throw new NotFoundError(`endpoint ${endpointId} not found`);
    return this.openSecrets(record);
  }

  /**
   * One read per delivery attempt: the endpoint, and its current secrets decrypted only when the attempt gets as
   * far as signing.
   */
  async getForDelivery(
    tenantId: TenantId,
    endpointId: EndpointId,
  ): Promise<
    { endpoint: Endpoint; signingSecrets(): string[]; credentials(): EndpointCredentials | undefined } | undefined
  > {
    const record = await this.getStored(tenantId, endpointId);
    if (!record) return undefined;
    return {
      endpoint: toPublic(record),
      signingSecrets: () => this.openSecrets(record),
      credentials: () =>
        record.authSealed === undefined
          ? undefined
          : (JSON.parse(
              this.box.open(record.authSealed, authOwner(record.tenantId, record.id)),
            ) as EndpointCredentials),
    };
  }

  private openSecrets(record: StoredEndpoint): string[] {
    const now = this.now().getTime();
    return record.secrets
      .filter((s) => s.expiresAt === undefined || Date.parse(s.expiresAt) > now)
      .map((s) => this.box.open(s.sealed, owner(record.tenantId, record.id)));
  }

  /** Deletes every endpoint of a tenant; used when the tenant is deleted. */
  async deleteAll(tenantId: TenantId): Promise<number> {
    const ids = await this.endpointIds(tenantId);
    if (ids.length === 0) return 0;
    const tx = this.redis.multi();
    for (const id of ids) {
      tx.del(this.keys.endpoint(tenantId, id));
      tx.del(this.keys.endpointFailures(tenantId, id));
    }
    tx.del(this.keys.tenantEndpoints(tenantId));
    await tx.exec();
    return ids.length;
  }

  private async getStored(tenantId: TenantId, endpointId: EndpointId): Promise<StoredEndpoint | undefined> {
    const raw = await this.redis.get(this.keys.endpoint(tenantId, endpointId));
    return raw === null ? undefined : (JSON.parse(raw) as StoredEndpoint);
  }

  /** The tenant's endpoint ids, oldest first: the index holds only ids this store minted. */
  private async endpointIds(tenantId: TenantId): Promise<EndpointId[]> {
    return (await this.redis.zrange(this.keys.tenantEndpoints(tenantId), 0, -1)) as EndpointId[];
  }

  private async getMany(tenantId: TenantId, ids: readonly EndpointId[]): Promise<StoredEndpoint[]> {
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(...ids.map((id) => this.keys.endpoint(tenantId, id)));
    return raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as StoredEndpoint);
  }

  /**
   * Optimistic read-modify-write: the record is replaced only if it is still the one that was read (a
   * compare-and-set script), so concurrent updates never overwrite each other. No WATCH: on a connection shared by
   * every caller (and on a Redis Cluster), one caller's WATCH would guard another caller's transaction.
   */
  private mutate(
    tenantId: TenantId,
    endpointId: EndpointId,
    change: (record: StoredEndpoint) => StoredEndpoint,
  ): Promise<Endpoint> {
    const key = this.keys.endpoint(tenantId, endpointId);
    // Queued per endpoint in this process: concurrent callers here would only lose rounds to each other.
    return this.queue.run(key, () => this.compareAndSet(key, endpointId, change));
  }

  private async compareAndSet(
    key: string,
    endpointId: EndpointId,
    change: (record: StoredEndpoint) => StoredEndpoint,
  ): Promise<Endpoint> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * MAX_CAS_BACKOFF_MS));
      const raw = await this.redis.get(key);
      if (raw === null) throw new NotFoundError(`endpoint ${endpointId} not found`);
      const next: StoredEndpoint = {
        ...change(JSON.parse(raw) as StoredEndpoint),
        updatedAt: this.now().toISOString(),
      };
      const replaced = await this.redis.wssReplaceIfUnchanged(key, raw, JSON.stringify(next));
      if (replaced === 1) return toPublic(next);
      if (replaced === -1) throw new NotFoundError(`endpoint ${endpointId} not found`);
    }
    throw new ConflictError(`endpoint ${endpointId} is being changed concurrently; try again`);
  }
}

function owner(tenantId: TenantId, endpointId: EndpointId): string {
  return `${tenantId}/${endpointId}`;
}

/** A separate binding, so a signing secret's ciphertext cannot be passed off as the credentials or back. */
function authOwner(tenantId: TenantId, endpointId: EndpointId): string {
  return `${tenantId}/${endpointId}/auth`;
}

function normalizeInput(input: EndpointInput): Omit<
  EndpointInput,
  'enabled' | 'signatureScheme' | 'signatureVersions' | 'sendTraceparent' | 'auth' | 'ordering'
> & {
  ordering?: OrderingSpec;
} {
  return {
    url: input.url,
    eventTypes: [...input.eventTypes],
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.headers !== undefined ? { headers: input.headers } : {}),
    ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
    // --- Flow control (issue 17) ---
    ...(input.rateLimit !== undefined ? { rateLimit: input.rateLimit } : {}),
    ...(input.rateLimitBurst !== undefined ? { rateLimitBurst: input.rateLimitBurst } : {}),
    ...(input.maxInFlight !== undefined ? { maxInFlight: input.maxInFlight } : {}),
    ...(input.adaptiveBackoff !== undefined ? { adaptiveBackoff: input.adaptiveBackoff } : {}),
    // --- end flow control ---
    ...(input.retryPolicy !== undefined ? { retryPolicy: input.retryPolicy } : {}),
    ...(input.filter !== undefined && input.filter !== null ? { filter: input.filter } : {}),
    ...(input.transform !== undefined && input.transform !== null ? { transform: input.transform } : {}),
    // --- ordered delivery
    ...(input.ordering !== undefined && input.ordering !== null ? { ordering: input.ordering } : {}),
  };
}

function withoutOptionalFields(record: StoredEndpoint): StoredEndpoint {
  const {
    description: _description,
    headers: _headers,
    metadata: _metadata,
    rateLimit: _rateLimit,
    rateLimitBurst: _rateLimitBurst,
    maxInFlight: _maxInFlight,
    adaptiveBackoff: _adaptiveBackoff,
    retryPolicy: _retryPolicy,
    filter: _filter,
    transform: _transform,
    ordering: _ordering,
    ...rest
  } = record;
  return rest;
}

function toPublic(record: StoredEndpoint): Endpoint {
  const { secrets: _secrets, authSealed: _authSealed, ...rest } = record;
  // Stored before the fields existed: off, and HMAC only.
  return {
    ...rest,
    sendTraceparent: rest.sendTraceparent ?? false,
    signatureVersions: rest.signatureVersions ?? DEFAULT_SIGNATURE_VERSIONS,
  };
}

function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const lastId = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^ep_[0-9a-z]+$/.test(lastId)) throw new ValidationError('cursor is not valid', 'cursor');
  return lastId;
}
