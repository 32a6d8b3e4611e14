import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { Agent, ProxyAgent, request } from 'undici';
import type { Dispatcher } from 'undici';
import type { EndpointCredentials } from '../domain/endpoint-auth';
import { withAuthHeaders } from '../domain/endpoint-auth';
import { DeliveryTransportError, DestinationNotAllowedError } from '../domain/errors';
import type { Config } from './config';
import { ConfigError } from './config';
import type { DestinationPolicy } from './egress/destination-policy';
import { OAuth2TokenSource } from './egress/oauth2-tokens';
import type { TokenCache } from './egress/oauth2-tokens';

/**
 * The one way the service talks to receivers: a single POST with hard limits, because every receiver is a
 * potentially hostile server. Connect, headers and whole-attempt deadlines bound the time, the body cap bounds
 * memory, redirects are never followed, and every address connected to has passed the {@link DestinationPolicy}.
 *
 * Once the status line and headers are in, the receiver has answered and the status decides the outcome. The body
 * is read afterwards only for a diagnostic snippet, under its own short budget; a body that is slow, never ends,
 * or breaks off mid-way (reset, short of its Content-Length) ends the read and is reported in
 * {@link HttpResponseSummary.bodyIncomplete}, never as a transport failure: turning a 2xx into a timeout would
 * deliver the event again on every retry.
 */

export interface HttpClientOptions {
  /** TCP/TLS connect timeout, including the DNS lookup. Config: `WSS_HTTP_CONNECT_TIMEOUT_MS` (5000). */
  readonly connectTimeoutMs: number;
  /** Time allowed from sending the request to a complete header block. Config: `WSS_HTTP_HEADERS_TIMEOUT_MS` (10000). */
  readonly headersTimeoutMs: number;
  /**
   * Deadline for the whole attempt; defeats receivers that trickle bytes. A response whose headers arrived in time
   * is kept even if its body is still coming when the deadline passes. Config: `WSS_HTTP_TOTAL_TIMEOUT_MS` (15000).
   */
  readonly totalTimeoutMs: number;
  /**
   * Time allowed for reading the body (for the diagnostic snippet) once the headers are in, and never past the
   * total deadline. Running out only stops the read. Default: {@link DEFAULT_BODY_READ_TIMEOUT_MS} (2000).
   */
  readonly bodyReadTimeoutMs?: number;
  /** Response body bytes read before the connection is cut. Config: `WSS_HTTP_MAX_RESPONSE_BYTES` (65536). */
  readonly maxResponseBytes: number;
  /** Longest silence allowed between body chunks. Default: `headersTimeoutMs`. */
  readonly bodyIdleTimeoutMs?: number;
  /**
   * Forward proxy for every delivery (`WSS_EGRESS_PROXY`). The proxy is trusted and resolves names itself, so
   * DNS pinning becomes the proxy's job: the target is still checked here before sending, but a name that
   * rebinds between our check and the proxy's lookup is not caught. Configure the proxy's own egress rules.
   */
  readonly proxyUrl?: string;
  readonly policy: DestinationPolicy;
  /**
   * Extra CA certificates (PEM) trusted for HTTPS besides Node's bundled roots, for receivers with a private CA.
   * Config: `WSS_HTTP_CA_FILE` (none).
   */
  readonly extraCaPem?: string;
  /** Where workers share OAuth2 tokens (Redis). Without it each client caches its own tokens in memory. */
  readonly tokenCache?: TokenCache;
  /** Sent as `User-Agent` on OAuth2 token requests. */
  readonly userAgent?: string;
}

export interface HttpResponseSummary {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The first bytes of the body (at most 4 KiB and at most `maxResponseBytes`), decoded as UTF-8, for diagnostics. */
  readonly bodySnippet: string;
  /** True when the receiver sent more than `maxResponseBytes` and the rest was not read. */
  readonly bodyTruncated: boolean;
  /**
   * Set when the body was neither read to its end nor to the cap: `timeout` when the body budget, the total
   * deadline or the idle timeout ran out, `error` when the connection failed mid-body. The status still stands.
   */
  readonly bodyIncomplete?: 'timeout' | 'error';
  readonly durationMs: number;
}

export interface PostOptions {
  /** Carried into {@link DeliveryTransportError} so a failure names its endpoint. Default: `unknown`. */
  readonly endpointId?: string;
  /** Aborts the request (the activity's cancellation: the worker is shutting down). */
  readonly signal?: AbortSignal;
  /**
   * The endpoint's authentication, decrypted for this attempt: `basic` and `bearer` set `authorization` (replacing
   * any such header in `headers`), `oauth2_client_credentials` sets a Bearer token fetched and shared through the
   * token source (on a 401 the token is refreshed and the request sent once more), and `mtls` presents the client
   * certificate on connections of its own, never shared with another certificate or with none.
   */
  readonly auth?: EndpointCredentials;
}

export interface HttpClient {
  /**
   * Sends one POST and never retries or follows redirects: a 3xx is returned like any other status.
   * Throws {@link DestinationNotAllowedError} when the policy refuses the destination and
   * {@link DeliveryTransportError} when no complete response arrived.
   */
  post(
    url: string,
    headers: Record<string, string>,
    body: string | Uint8Array,
    options?: PostOptions,
  ): Promise<HttpResponseSummary>;
  /** Closes pooled connections; in-flight requests finish first. */
  close(): Promise<void>;
}

const SNIPPET_BYTES = 4096;

/** Default of {@link HttpClientOptions.bodyReadTimeoutMs}: enough for a normal error page, short for a trickle. */
export const DEFAULT_BODY_READ_TIMEOUT_MS = 2000;

/** Maps the validated configuration onto client options. */
export function httpClientOptionsFromConfig(config: Config, policy: DestinationPolicy): HttpClientOptions {
  return {
    connectTimeoutMs: config.WSS_HTTP_CONNECT_TIMEOUT_MS,
    headersTimeoutMs: config.WSS_HTTP_HEADERS_TIMEOUT_MS,
    totalTimeoutMs: config.WSS_HTTP_TOTAL_TIMEOUT_MS,
    maxResponseBytes: config.WSS_HTTP_MAX_RESPONSE_BYTES,
    ...(config.WSS_EGRESS_PROXY !== undefined ? { proxyUrl: config.WSS_EGRESS_PROXY } : {}),
    ...(config.WSS_HTTP_CA_FILE !== undefined ? { extraCaPem: readExtraCaFile(config.WSS_HTTP_CA_FILE) } : {}),
    policy,
  };
}

/** Builds the delivery HTTP client. One per worker: it owns a connection pool. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const { policy, proxyUrl, totalTimeoutMs, maxResponseBytes } = options;
  const bodyReadTimeoutMs = options.bodyReadTimeoutMs ?? DEFAULT_BODY_READ_TIMEOUT_MS;
  const dispatcher = createDispatcher(options);
  const clientCertDispatchers = new ClientCertificateDispatchers(options);
  const tokens = new OAuth2TokenSource({
    post: async (url, headers, body, tokenOptions) => {
      const answer = await send(url, headers, body, tokenOptions, dispatcher, tokenOptions.maxBodyBytes);
      return { statusCode: answer.statusCode, body: answer.bodySnippet };
    },
    ...(options.tokenCache !== undefined ? { cache: options.tokenCache } : {}),
    ...(options.userAgent !== undefined ? { userAgent: options.userAgent } : {}),
  });

  async function post(
    rawUrl: string,
    headers: Record<string, string>,
    body: string | Uint8Array,
    postOptions: PostOptions = {},
  ): Promise<HttpResponseSummary> {
    const auth = postOptions.auth;
    if (auth === undefined) return send(rawUrl, headers, body, postOptions, dispatcher);
    const authorized = (value: string) => withAuthHeaders(headers, { authorization: value });
    switch (auth.type) {
      case 'basic': {
        const basic = Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64');
        return send(rawUrl, authorized(`Basic ${basic}`), body, postOptions, dispatcher);
      }
      case 'bearer':
        return send(rawUrl, authorized(`Bearer ${auth.token}`), body, postOptions, dispatcher);
      case 'mtls':
        return send(rawUrl, headers, body, postOptions, clientCertDispatchers.for(auth.certificate, auth.privateKey));
      case 'oauth2_client_credentials': {
        const context = { endpointId: postOptions.endpointId ?? 'unknown', ...signalOf(postOptions) };
        const token = await tokens.token(auth, context);
        const first = await send(rawUrl, authorized(`Bearer ${token}`), body, postOptions, dispatcher);
        if (first.statusCode !== 401) return first;
        // The receiver no longer takes the token (expired early, revoked): one fresh token, one more send.
        const fresh = await tokens.token(auth, { ...context, rejected: token });
        return send(rawUrl, authorized(`Bearer ${fresh}`), body, postOptions, dispatcher);
      }
      default: {
        const unreachable: never = auth;
        throw new Error(`unhandled auth ${JSON.stringify(unreachable)}`);
      }
    }
  }

  async function send(
    rawUrl: string,
    headers: Record<string, string>,
    body: string | Uint8Array,
    postOptions: Pick<PostOptions, 'endpointId' | 'signal'>,
    via: Dispatcher,
    keepBytes = SNIPPET_BYTES,
  ): Promise<HttpResponseSummary> {
    const endpointId = postOptions.endpointId ?? 'unknown';
    const started = performance.now();
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DeadlineExceeded()), totalTimeoutMs);
    const signal = postOptions.signal ? AbortSignal.any([deadline.signal, postOptions.signal]) : deadline.signal;
    let response: Dispatcher.ResponseData;
    try {
      // Directly, names are resolved and checked by the pinned lookup at connect time; only literals need checking
      // here because Node skips lookup for them. Through a proxy we never see the connect, so resolve now.
      const url =
        proxyUrl === undefined
          ? policy.checkUrlStatically(rawUrl)
          : await untilAborted(checkViaResolve(policy, rawUrl), signal);
      response = await request(url, {
        method: 'POST',
        headers,
        body,
        dispatcher: via,
        signal,
      });
    } catch (err) {
      throw toDeliveryError(err, endpointId, deadline.signal.aborted);
    } finally {
      // From here on the answer is in: the deadline must not abort the body read and so turn it into a failure.
      clearTimeout(timer);
    }
    const remainingMs = totalTimeoutMs - (performance.now() - started);
    const read = await readCapped(
      response.body,
      // A token response is read whole (up to its own cap) even when deliveries read less of a receiver's answer.
      Math.max(maxResponseBytes, keepBytes === SNIPPET_BYTES ? 0 : keepBytes),
      Math.max(0, Math.min(bodyReadTimeoutMs, remainingMs)),
      keepBytes,
    );
    return {
      statusCode: response.statusCode,
      headers: response.headers,
      bodySnippet: read.snippet,
      bodyTruncated: read.truncated,
      ...(read.incomplete !== undefined ? { bodyIncomplete: read.incomplete } : {}),
      durationMs: Math.round(performance.now() - started),
    };
  }

  return {
    post,
    close: async () => {
      await Promise.all([dispatcher.close(), clientCertDispatchers.close()]);
    },
  };
}

function signalOf(options: PostOptions): { signal?: AbortSignal } {
  return options.signal !== undefined ? { signal: options.signal } : {};
}

/**
 * @param clientCertificate presented in every handshake of this dispatcher's connections (mTLS); a dispatcher
 *   with one is used for its endpoint's certificate only, so no other endpoint's request rides its connections.
 */
function createDispatcher(options: HttpClientOptions, clientCertificate?: { cert: string; key: string }): Dispatcher {
  const timeouts = {
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyIdleTimeoutMs ?? options.headersTimeoutMs,
  };
  // Node's default trust (its bundled roots) plus the operator's bundle; `ca` replaces the default, hence both.
  const trust = options.extraCaPem !== undefined ? { ca: [...rootCertificates, options.extraCaPem] } : {};
  const tls = { ...trust, ...(clientCertificate ?? {}) };
  if (options.proxyUrl !== undefined) {
    // CONNECT tunnel: the TLS session runs end to end to the receiver (requestTls), the proxy sees only bytes.
    return new ProxyAgent({
      uri: options.proxyUrl,
      ...timeouts,
      proxyTls: { timeout: options.connectTimeoutMs, ...trust },
      requestTls: { timeout: options.connectTimeoutMs, ...tls },
    });
  }
  // No redirect interceptor is composed on: undici's request() then never follows Location.
  return new Agent({
    ...timeouts,
    connect: { timeout: options.connectTimeoutMs, lookup: options.policy.createPinnedLookup(), ...tls },
  });
}

/** Most client certificates kept with an open pool at once; the least recently used is closed beyond it. */
const MAX_CLIENT_CERT_DISPATCHERS = 256;

/**
 * One dispatcher (connection pool) per client certificate, so a certificate is presented only on connections made
 * for it. Keyed by a digest of certificate and key: an endpoint whose certificate changes gets a new pool.
 */
class ClientCertificateDispatchers {
  private readonly pools = new Map<string, Dispatcher>();

  constructor(private readonly options: HttpClientOptions) {}

  for(cert: string, key: string): Dispatcher {
    const id = createHash('sha256').update(cert).update('\0').update(key).digest('base64url');
    const existing = this.pools.get(id);
    if (existing !== undefined) {
      // Most recently used last.
      this.pools.delete(id);
      this.pools.set(id, existing);
      return existing;
    }
    const created = createDispatcher(this.options, { cert, key });
    this.pools.set(id, created);
    if (this.pools.size > MAX_CLIENT_CERT_DISPATCHERS) {
      const [oldestId, oldest] = this.pools.entries().next().value as [string, Dispatcher];
      this.pools.delete(oldestId);
      void oldest.close().catch(() => undefined);
    }
    return created;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((d) => d.close()));
    this.pools.clear();
  }
}

/**
 * Reads `WSS_HTTP_CA_FILE`: every certificate must parse, or start-up stops naming the variable.
 */
export function readExtraCaFile(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError([`WSS_HTTP_CA_FILE: cannot read "${file}" (${code})`]);
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError([`WSS_HTTP_CA_FILE: "${file}" holds no PEM certificate`]);
  blocks.forEach((block, index) => {
    try {
      new X509Certificate(block);
    } catch {
      throw new ConfigError([`WSS_HTTP_CA_FILE: certificate ${index + 1} in "${file}" does not parse`]);
    }
  });
  return pem;
}

async function checkViaResolve(policy: DestinationPolicy, rawUrl: string): Promise<URL> {
  const url = policy.checkUrlStatically(rawUrl);
  await policy.resolveChecked(url.hostname);
  return url;
}

/**
 * Reads up to `maxBytes` within `budgetMs`, keeping the first 4 KiB, then destroys the stream so an oversized body
 * is never buffered or even downloaded. Never throws: oversize, a spent budget and a failure mid-body only end the
 * read, because the receiver did answer and the status is what counts.
 */
async function readCapped(
  body: Readable,
  maxBytes: number,
  budgetMs: number,
  keepBytes = SNIPPET_BYTES,
): Promise<{ snippet: string; truncated: boolean; incomplete?: 'timeout' | 'error' }> {
  const keep = Math.min(keepBytes, maxBytes);
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let readBytes = 0;
  let truncated = false;
  let incomplete: 'timeout' | 'error' | undefined;
  const budget = setTimeout(() => body.destroy(new BodyReadTimeout()), budgetMs);
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const allowed = Math.min(chunk.length, maxBytes - readBytes);
      if (keptBytes < keep) {
        const slice = chunk.subarray(0, Math.min(allowed, keep - keptBytes));
        kept.push(slice);
        keptBytes += slice.length;
      }
      readBytes += allowed;
      if (allowed < chunk.length) {
        truncated = true;
        break;
      }
    }
  } catch (err) {
    incomplete = err instanceof BodyReadTimeout || causeCode(err) === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : 'error';
  } finally {
    clearTimeout(budget);
    // Leaving the loop early already destroys the stream; this also covers errors thrown mid-read.
    if (!body.destroyed) body.destroy();
  }
  return {
    snippet: Buffer.concat(kept).toString('utf8'),
    truncated,
    ...(incomplete !== undefined ? { incomplete } : {}),
  };
}

class BodyReadTimeout extends Error {
  readonly code = 'body_read_timeout';
}

class DeadlineExceeded extends Error {
  readonly code = 'deadline_exceeded';
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    void work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function toDeliveryError(err: unknown, endpointId: string, deadlineExceeded: boolean): Error {
  const blocked = findDestinationError(err);
  if (blocked !== undefined) return blocked;
  if (deadlineExceeded) return new DeliveryTransportError(endpointId, 'deadline_exceeded');
  return new DeliveryTransportError(endpointId, causeCode(err) ?? 'unknown');
}

/** undici and Node's happy-eyeballs may wrap the lookup's error in `cause` or an AggregateError's `errors`. */
function findDestinationError(err: unknown, depth = 0): DestinationNotAllowedError | undefined {
  if (err instanceof DestinationNotAllowedError) return err;
  if (depth >= 5 || !(err instanceof Error)) return undefined;
  const nested: unknown[] = [err.cause, ...(err instanceof AggregateError ? err.errors : [])];
  for (const inner of nested) {
    const found = findDestinationError(inner, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

function causeCode(err: unknown, depth = 0): string | undefined {
  if (depth >= 5 || typeof err !== 'object' || err === null) return undefined;
  if ('code' in err && typeof err.code === 'string') return err.code;
  const nested: unknown[] = [
    'cause' in err ? err.cause : undefined,
    ...(err instanceof AggregateError ? err.errors : []),
  ];
  for (const inner of nested) {
    const code = causeCode(inner, depth + 1);
    if (code !== undefined) return code;
  }
  return undefined;
}
