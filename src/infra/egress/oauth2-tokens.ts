import { createHash } from 'node:crypto';
import type { EndpointCredentials } from '../../domain/endpoint-auth';
import { DeliveryTransportError, DestinationNotAllowedError } from '../../domain/errors';

/**
 * OAuth2 client-credentials tokens (RFC 6749 §4.4) for endpoints that want one. A token is fetched once and
 * shared: first from this process's memory, then from the {@link TokenCache} every worker reads (Redis, sealed),
 * and only then from the token endpoint, with a cross-worker lock so that a burst across workers fetches about
 * one token, not one per worker or per delivery.
 *
 * The token request goes through the delivery HTTP client (the caller's `post`), so it passes the same egress
 * policy, pinned lookup, proxy, CA bundle and time limits as a delivery.
 */

type OAuth2Credentials = Extract<EndpointCredentials, { type: 'oauth2_client_credentials' }>;

export interface CachedToken {
  readonly accessToken: string;
  /** Epoch ms after which the token is no longer used (already short of the real expiry). */
  readonly usableUntil: number;
}

/** Where workers share tokens. Every method may throw (Redis down): the source then works without it. */
export interface TokenCache {
  get(key: string): Promise<CachedToken | undefined>;
  set(key: string, token: CachedToken, ttlMs: number): Promise<void>;
  /** Removes the entry only while it still holds `accessToken` (another worker may have refreshed it). */
  deleteIf(key: string, accessToken: string): Promise<void>;
  /** Takes the refresh lock of `key` for `ttlMs`; false when another worker holds it. */
  tryLock(key: string, ttlMs: number): Promise<boolean>;
  unlock(key: string): Promise<void>;
}

/** The token request as sent: through the delivery client, reading up to `maxBodyBytes` of the answer. */
export type TokenPost = (
  url: string,
  headers: Record<string, string>,
  body: string,
  options: { endpointId: string; signal?: AbortSignal; maxBodyBytes: number },
) => Promise<{ statusCode: number; body: string }>;

export interface TokenSourceOptions {
  readonly post: TokenPost;
  readonly cache?: TokenCache;
  readonly now?: () => number;
  /** How long a worker that lost the refresh lock waits for the winner's token. Default 5000 ms. */
  readonly lockWaitMs?: number;
  readonly userAgent?: string;
}

/** Used when a token response has no `expires_in`: short, since nobody said how long it lasts. */
const DEFAULT_LIFETIME_S = 60;
/** Refreshed this long before it expires (or at half its life, when that is sooner). */
const EXPIRY_MARGIN_MS = 60_000;
const LOCK_TTL_MS = 10_000;
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** Cause code of every token-endpoint failure: the attempt's reason becomes `oauth2_token_error`. */
export const OAUTH2_TOKEN_ERROR = 'OAUTH2_TOKEN_ERROR';

export class OAuth2TokenSource {
  private readonly memory = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly now: () => number;
  private readonly lockWaitMs: number;

  constructor(private readonly options: TokenSourceOptions) {
    this.now = options.now ?? Date.now;
    this.lockWaitMs = options.lockWaitMs ?? 5000;
  }

  /**
   * A usable access token for `credentials`. Pass `rejected` (the token the receiver just answered 401 to) to get a
   * different one: a token another worker already refreshed, or a new one from the token endpoint.
   *
   * @throws DeliveryTransportError with cause {@link OAUTH2_TOKEN_ERROR} when the token endpoint fails; the
   *   egress policy's DestinationNotAllowedError (naming the token URL) when it refuses the token URL.
   */
  async token(
    credentials: OAuth2Credentials,
    context: { endpointId: string; signal?: AbortSignal; rejected?: string },
  ): Promise<string> {
    const key = cacheKey(credentials);
    const usable = (t: CachedToken | undefined): t is CachedToken =>
      t !== undefined && t.usableUntil > this.now() && t.accessToken !== context.rejected;
    const local = this.memory.get(key);
    if (usable(local)) return local.accessToken;
    if (context.rejected !== undefined) {
      this.memory.delete(key);
      await this.quietly(() => this.options.cache?.deleteIf(key, context.rejected as string));
    }
    const shared = await this.quietly(() => this.options.cache?.get(key));
    if (usable(shared)) {
      this.memory.set(key, shared);
      return shared.accessToken;
    }
    // One refresh per key at a time in this process; concurrent attempts wait for it.
    let pending = this.inflight.get(key);
    if (pending === undefined) {
      pending = this.refresh(key, credentials, context, usable).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async refresh(
    key: string,
    credentials: OAuth2Credentials,
    context: { endpointId: string; signal?: AbortSignal },
    usable: (t: CachedToken | undefined) => t is CachedToken,
  ): Promise<string> {
    const cache = this.options.cache;
    const locked = cache === undefined ? true : ((await this.quietly(() => cache.tryLock(key, LOCK_TTL_MS))) ?? true);
    if (!locked) {
      // Another worker is fetching: take its token when it lands, or fetch after all if it does not in time.
      const deadline = this.now() + this.lockWaitMs;
      while (this.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const shared = await this.quietly(() => cache?.get(key));
        if (usable(shared)) {
          this.memory.set(key, shared);
          return shared.accessToken;
        }
      }
    }
    try {
      const fresh = await this.fetchToken(credentials, context);
      if (fresh.ttlMs > 0) {
        this.memory.set(key, fresh.token);
        await this.quietly(() => cache?.set(key, fresh.token, fresh.ttlMs));
      }
      return fresh.token.accessToken;
    } finally {
      if (locked && cache !== undefined) await this.quietly(() => cache.unlock(key));
    }
  }

  private async fetchToken(
    credentials: OAuth2Credentials,
    context: { endpointId: string; signal?: AbortSignal },
  ): Promise<{ token: CachedToken; ttlMs: number }> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (credentials.scope !== undefined) form.set('scope', credentials.scope);
    if (credentials.audience !== undefined) form.set('audience', credentials.audience);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      ...(this.options.userAgent !== undefined ? { 'user-agent': this.options.userAgent } : {}),
    };
    if (credentials.clientAuthMethod === 'client_secret_post') {
      form.set('client_id', credentials.clientId);
      form.set('client_secret', credentials.clientSecret);
    } else {
      // RFC 6749 §2.3.1: both parts form-urlencoded before the Basic encoding.
      const user = `${formEncode(credentials.clientId)}:${formEncode(credentials.clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(user, 'utf8').toString('base64')}`;
    }
    const started = this.now();
    let answer: { statusCode: number; body: string };
    try {
      answer = await this.options.post(credentials.tokenUrl, headers, form.toString(), {
        endpointId: context.endpointId,
        ...(context.signal !== undefined ? { signal: context.signal } : {}),
        maxBodyBytes: MAX_TOKEN_RESPONSE_BYTES,
      });
    } catch (err) {
      if (err instanceof DestinationNotAllowedError) {
        throw new DestinationNotAllowedError(`auth.tokenUrl: ${err.reason}`);
      }
      const cause = err instanceof DeliveryTransportError ? err.causeCode : 'unknown';
      throw new DeliveryTransportError(context.endpointId, OAUTH2_TOKEN_ERROR, {
        cause: new Error(`token endpoint unreachable: ${cause}`),
      });
    }
    if (answer.statusCode < 200 || answer.statusCode > 299)
      throw tokenError(context.endpointId, `HTTP ${answer.statusCode}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body);
    } catch {
      throw tokenError(context.endpointId, 'the answer is not JSON');
    }
    const fields = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
    const accessToken = fields.access_token;
    if (typeof accessToken !== 'string' || accessToken === '' || !/^[\x21-\x7e]+$/.test(accessToken)) {
      throw tokenError(context.endpointId, 'no usable access_token in the answer');
    }
    const tokenType = fields.token_type;
    if (typeof tokenType === 'string' && tokenType.toLowerCase() !== 'bearer') {
      throw tokenError(context.endpointId, 'token_type is not Bearer');
    }
    // RFC 6749 §5.1: `expires_in` is the lifetime in seconds (some servers send it as a string). Absent or not a
    // number: a short default. Zero or negative: the token is already expired by the server's own word, so it is
    // used for this one request and cached nowhere (ttlMs 0).
    const stated =
      typeof fields.expires_in === 'number' || typeof fields.expires_in === 'string' ? Number(fields.expires_in) : NaN;
    const expiresIn = Number.isFinite(stated) && String(fields.expires_in).trim() !== '' ? stated : DEFAULT_LIFETIME_S;
    if (expiresIn <= 0) return { token: { accessToken, usableUntil: started }, ttlMs: 0 };
    const lifetimeMs = expiresIn * 1000;
    const ttlMs = Math.max(1, lifetimeMs - Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 2));
    return { token: { accessToken, usableUntil: started + ttlMs }, ttlMs };
  }

  /** Cache trouble (Redis down) is never the attempt's failure: the source falls back to fetching. */
  private async quietly<T>(work: () => Promise<T> | undefined): Promise<T | undefined> {
    try {
      return await work();
    } catch {
      return undefined;
    }
  }
}

/** The cache key: a digest of everything that decides which token the endpoint gets, the secret included. */
function cacheKey(credentials: OAuth2Credentials): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        credentials.tokenUrl,
        credentials.clientId,
        credentials.clientSecret,
        credentials.scope ?? null,
        credentials.audience ?? null,
        credentials.clientAuthMethod,
      ]),
    )
    .digest('base64url');
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

function tokenError(endpointId: string, why: string): DeliveryTransportError {
  // The reason goes into `cause` for debugging; the attempt records only the stable code.
  return new DeliveryTransportError(endpointId, OAUTH2_TOKEN_ERROR, { cause: new Error(`token endpoint: ${why}`) });
}
