import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { Agent, ProxyAgent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { DeliveryTransportError, DestinationNotAllowedError } from '../domain/errors';
import type { Config } from './config';
import type { DestinationPolicy } from './egress/destination-policy';

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
    policy,
  };
}

/** Builds the delivery HTTP client. One per worker: it owns a connection pool. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const { policy, proxyUrl, totalTimeoutMs, maxResponseBytes } = options;
  const bodyReadTimeoutMs = options.bodyReadTimeoutMs ?? DEFAULT_BODY_READ_TIMEOUT_MS;
  const dispatcher = createDispatcher(options);

  async function post(
    rawUrl: string,
    headers: Record<string, string>,
    body: string | Uint8Array,
    postOptions: PostOptions = {},
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
        dispatcher,
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
      maxResponseBytes,
      Math.max(0, Math.min(bodyReadTimeoutMs, remainingMs)),
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
    close: () => dispatcher.close(),
  };
}

function createDispatcher(options: HttpClientOptions): Dispatcher {
  const timeouts = {
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyIdleTimeoutMs ?? options.headersTimeoutMs,
  };
  if (options.proxyUrl !== undefined) {
    return new ProxyAgent({
      uri: options.proxyUrl,
      ...timeouts,
      proxyTls: { timeout: options.connectTimeoutMs },
      requestTls: { timeout: options.connectTimeoutMs },
    });
  }
  // No redirect interceptor is composed on: undici's request() then never follows Location.
  return new Agent({
    ...timeouts,
    connect: { timeout: options.connectTimeoutMs, lookup: options.policy.createPinnedLookup() },
  });
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
): Promise<{ snippet: string; truncated: boolean; incomplete?: 'timeout' | 'error' }> {
  const keep = Math.min(SNIPPET_BYTES, maxBytes);
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
