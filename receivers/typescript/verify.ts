import { createHmac, createPublicKey, timingSafeEqual, verify as ed25519Verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** Why a request was accepted or rejected. Codes are shared with the Python and Go kits and the test vectors. */
export type WssVerdictReason =
  'ok' | 'bad_signature' | 'bad_timestamp' | 'timestamp_out_of_tolerance' | 'malformed_signature';

export interface WssVerdict {
  readonly valid: boolean;
  readonly reason: WssVerdictReason;
}

export interface VerifyWssOptions {
  /** The endpoint secret exactly as shown when it was created; its UTF-8 bytes are the HMAC key. */
  readonly secret: string;
  /** The `X-WSS-Timestamp` header value. */
  readonly timestampHeader: string | undefined;
  /** The `X-WSS-Signature` header value: one or more comma-separated lowercase hex signatures. */
  readonly signatureHeader: string | undefined;
  /** The raw request body, before any JSON parsing. A string is taken as UTF-8. */
  readonly body: Buffer | Uint8Array | string;
  /** Current Unix time in seconds. Default: the system clock. */
  readonly now?: number;
  /** Allowed clock difference, either way, in seconds. Default: 300. */
  readonly toleranceSeconds?: number;
}

const DIGITS = /^[0-9]+$/;
const LOWER_HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * Verifies an `X-WSS-Signature`. Never throws on bad input; checks run in the order timestamp syntax, tolerance,
 * signature, so the reason names the first thing wrong.
 *
 * Signatures must be exactly 64 lowercase hex digits; anything else (including uppercase hex) is a malformed entry,
 * skipped rather than fatal, so one bad entry cannot hide a good one during a secret rotation.
 */
export function verifyWssSignature(options: VerifyWssOptions): WssVerdict {
  const { secret, timestampHeader, signatureHeader, body } = options;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;

  // Strict: Number() and parseInt() accept spaces, signs, "1e9" or trailing junk, and the timestamp digits are part of
  // the signed bytes, so a lenient parse lets the timestamp/body boundary move.
  if (timestampHeader === undefined || !DIGITS.test(timestampHeader)) return verdict('bad_timestamp');
  // Precision loss above 2^53 is harmless: such values are far outside any sane tolerance.
  if (Math.abs(now - Number(timestampHeader)) > tolerance) return verdict('timestamp_out_of_tolerance');

  const candidates = (signatureHeader ?? '').split(',').map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''));
  const wellFormed = candidates.filter((s) => LOWER_HEX_SHA256.test(s));
  if (wellFormed.length === 0) return verdict('malformed_signature');

  // An empty key is a configuration mistake that anyone could sign with; fail closed rather than accept.
  if (secret.length === 0) return verdict('bad_signature');

  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const expected = Buffer.from(
    createHmac('sha256', Buffer.from(secret, 'utf8')).update(timestampHeader, 'utf8').update(bytes).digest('hex'),
    'ascii',
  );
  // Every candidate is compared so the time taken does not reveal which entry matched.
  let matched = false;
  for (const candidate of wellFormed) {
    if (timingSafeEqual(Buffer.from(candidate, 'ascii'), expected)) matched = true;
  }
  return verdict(matched ? 'ok' : 'bad_signature');
}

function verdict(reason: WssVerdictReason): WssVerdict {
  return { valid: reason === 'ok', reason };
}

/** Raised when a body exceeds the configured limit; the middlewares turn it into a 413. */
export class BodyTooLargeError extends Error {
  readonly statusCode = 413;
  constructor(readonly limitBytes: number) {
    super(`request body exceeds ${limitBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Default cap on the bytes read before verifying, so an unsigned sender cannot make us buffer without bound. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** Reads a request stream into one Buffer, stopping as soon as it passes `limitBytes`. */
export async function readRawBody(stream: AsyncIterable<Uint8Array | string>, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    total += bytes.length;
    if (total > limitBytes) throw new BodyTooLargeError(limitBytes);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

/** A single header value; repeated headers arrive as arrays and are joined the way Node joins unknown headers. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

// ---------------------------------------------------------------------------------------------------------------
// Standard Webhooks `v1a`: ed25519 signatures, verified with the sender's public keys (a JWKS), no shared secret.
// ---------------------------------------------------------------------------------------------------------------

/** Why a `v1a` request was accepted or rejected. Shared with the Python and Go kits and test/vectors/v1a.json. */
export type V1aVerdictReason = WssVerdictReason | 'unknown_key';

export interface V1aVerdict {
  readonly valid: boolean;
  readonly reason: V1aVerdictReason;
}

/** One key of a JWK set; only `kty: "OKP"`, `crv: "Ed25519"` keys (RFC 8037) are used, others are ignored. */
export interface Jwk {
  readonly kty?: string;
  readonly crv?: string;
  readonly x?: string;
  readonly kid?: string;
  readonly use?: string;
  readonly alg?: string;
}

/** A JWK set (RFC 7517), as served at `GET /v1/tenants/{tenantId}/jwks.json`. */
export interface Jwks {
  readonly keys: readonly Jwk[];
}

export interface VerifyV1aOptions {
  /** The sender's public keys. */
  readonly jwks: Jwks;
  /** The `webhook-id` header value. */
  readonly id: string | undefined;
  /** The `webhook-timestamp` header value. */
  readonly timestamp: string | undefined;
  /** The `webhook-signature` header value: space-separated entries; `v1a,<base64>` ones are checked here. */
  readonly signature: string | undefined;
  /**
   * The `webhook-signature-kid` header value: the kid of each `v1a` entry, space-separated, in the same order.
   * Without it every Ed25519 key of the JWKS is tried.
   */
  readonly kid?: string | undefined;
  /** The raw request body, before any JSON parsing. A string is taken as UTF-8. */
  readonly body: Buffer | Uint8Array | string;
  /** Current Unix time in seconds. Default: the system clock. */
  readonly now?: number;
  /** Allowed clock difference, either way, in seconds. Default: 300. */
  readonly toleranceSeconds?: number;
}

/** 64 signature bytes in standard, padded base64. */
const ED25519_SIGNATURE_BASE64 = /^[A-Za-z0-9+/]{86}==$/;
const BASE64URL_32_BYTES = /^[A-Za-z0-9_-]{43}$/;

/**
 * Verifies the `v1a` (ed25519) signatures of a Standard Webhooks request against a JWKS. Never throws on bad input;
 * checks run in the order timestamp syntax, tolerance, signature entries, keys, signatures, so the reason names the
 * first thing wrong. `unknown_key` means no entry had a key to check it with: refetch the JWKS (see
 * {@link JwksCache}) before giving up.
 */
export function verifyV1aSignature(options: VerifyV1aOptions): V1aVerdict {
  const { jwks, timestamp, body } = options;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  if (timestamp === undefined || !DIGITS.test(timestamp)) return v1aVerdict('bad_timestamp');
  if (Math.abs(now - Number(timestamp)) > tolerance) return v1aVerdict('timestamp_out_of_tolerance');

  // Kids pair with v1a entries by position, malformed entries included, so one bad entry cannot shift the rest.
  const entries = (options.signature ?? '')
    .split(' ')
    .filter((e) => e.startsWith('v1a,'))
    .map((e) => e.slice(4));
  const kids = (options.kid ?? '').split(' ').filter((k) => k.length > 0);
  const checkable = entries
    .map((signature, index) => ({ signature, kid: kids.length > 0 ? kids[index] : undefined }))
    .filter((e) => ED25519_SIGNATURE_BASE64.test(e.signature));
  if (checkable.length === 0) return v1aVerdict('malformed_signature');

  const keys = usableKeys(jwks);
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  const content = Buffer.concat([Buffer.from(`${options.id ?? ''}.${timestamp}.`, 'utf8'), bytes]);
  let anyKey = false;
  for (const entry of checkable) {
    const candidates = keys.filter((k) => entry.kid === undefined || k.kid === entry.kid);
    if (candidates.length > 0) anyKey = true;
    const signature = Buffer.from(entry.signature, 'base64');
    if (candidates.some((k) => ed25519Verify(null, content, k.key, signature))) return v1aVerdict('ok');
  }
  return v1aVerdict(anyKey ? 'bad_signature' : 'unknown_key');
}

function usableKeys(jwks: Jwks): { kid: string | undefined; key: KeyObject }[] {
  const out: { kid: string | undefined; key: KeyObject }[] = [];
  for (const jwk of Array.isArray(jwks?.keys) ? jwks.keys : []) {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || !BASE64URL_32_BYTES.test(jwk.x)) {
      continue;
    }
    if ((jwk.use !== undefined && jwk.use !== 'sig') || (jwk.alg !== undefined && jwk.alg !== 'EdDSA')) continue;
    try {
      out.push({
        kid: jwk.kid,
        key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }),
      });
    } catch {
      // Not a valid point: skip the key.
    }
  }
  return out;
}

function v1aVerdict(reason: V1aVerdictReason): V1aVerdict {
  return { valid: reason === 'ok', reason };
}

/** The JWKS could not be fetched and no earlier copy is held: answer 5xx so the sender retries later. */
export class JwksUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwksUnavailableError';
  }
}

export interface JwksCacheOptions {
  /** How long a fetched JWKS is used before it is fetched again, in seconds. Default: 300. */
  readonly ttlSeconds?: number;
  /**
   * Shortest time between two fetches, in seconds, even when a request names a kid the cached set lacks (a key
   * rotation), so forged kids cannot make us hammer the sender. Default: 30.
   */
  readonly minRefreshSeconds?: number;
  /** Per-fetch deadline in ms. Default: 5000. */
  readonly timeoutMs?: number;
  /** The fetch implementation. Default: the global fetch. */
  readonly fetch?: typeof fetch;
  /** Clock in ms. Default: Date.now. */
  readonly clock?: () => number;
}

/** Largest JWKS accepted: a handful of keys is a few hundred bytes. */
const MAX_JWKS_BYTES = 64 * 1024;

/**
 * Fetches and caches a sender's JWKS (`https://<sender>/v1/tenants/<tenant>/jwks.json`) and verifies `v1a`
 * requests with it. The set is refetched after `ttlSeconds`, and early when a request names a key the cached set
 * lacks (the sender rotated), at most once per `minRefreshSeconds`. When a refetch fails the previous set is kept.
 * Pin the URL in your configuration: never take it, or a key, from the request.
 */
export class JwksCache {
  private cached: { jwks: Jwks; fetchedAt: number } | undefined;
  private inFlight: Promise<Jwks> | undefined;
  private readonly ttlMs: number;
  private readonly minRefreshMs: number;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly clock: () => number;

  constructor(
    readonly url: string,
    options: JwksCacheOptions = {},
  ) {
    this.ttlMs = (options.ttlSeconds ?? 300) * 1000;
    this.minRefreshMs = (options.minRefreshSeconds ?? 30) * 1000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.fetchImpl = options.fetch ?? fetch;
    this.clock = options.clock ?? Date.now;
  }

  /** The JWKS, fetched when none is held or the held one is older than the TTL. */
  async keys(): Promise<Jwks> {
    if (this.cached !== undefined && this.clock() - this.cached.fetchedAt < this.ttlMs) return this.cached.jwks;
    return this.refresh();
  }

  /**
   * Verifies a request (see {@link verifyV1aSignature}). On `unknown_key` the set is refetched once (rate-limited)
   * and the request checked again.
   *
   * @throws JwksUnavailableError when no JWKS could ever be fetched.
   */
  async verify(request: Omit<VerifyV1aOptions, 'jwks'>): Promise<V1aVerdict> {
    const first = verifyV1aSignature({ ...request, jwks: await this.keys() });
    if (first.reason !== 'unknown_key') return first;
    if (this.cached !== undefined && this.clock() - this.cached.fetchedAt < this.minRefreshMs) return first;
    return verifyV1aSignature({ ...request, jwks: await this.refresh() });
  }

  private async refresh(): Promise<Jwks> {
    this.inFlight ??= this.fetchJwks().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetchJwks(): Promise<Jwks> {
    try {
      const res = await this.fetchImpl(this.url, {
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: { accept: 'application/jwk-set+json, application/json' },
        redirect: 'error',
      });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      const text = await res.text();
      if (Buffer.byteLength(text, 'utf8') > MAX_JWKS_BYTES) throw new Error('JWKS too large');
      const parsed = JSON.parse(text) as Jwks;
      if (parsed === null || typeof parsed !== 'object' || !Array.isArray(parsed.keys)) {
        throw new Error('not a JWK set');
      }
      this.cached = { jwks: parsed, fetchedAt: this.clock() };
      return parsed;
    } catch (err) {
      if (this.cached !== undefined) {
        // Keep verifying with the keys we have; try again after the minimum interval.
        this.cached = {
          jwks: this.cached.jwks,
          fetchedAt: Math.max(this.cached.fetchedAt, this.clock() - this.ttlMs + this.minRefreshMs),
        };
        return this.cached.jwks;
      }
      throw new JwksUnavailableError(`could not fetch the JWKS from ${this.url}: ${(err as Error).message}`);
    }
  }
}
