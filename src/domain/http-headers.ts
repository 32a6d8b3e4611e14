/**
 * The rules for headers a tenant adds to its requests: static endpoint `headers` (checked at registration) and
 * the headers a transform returns (checked per delivery). One list, so the two paths cannot disagree.
 *
 * A header is refused when the HTTP client owns it (framing, the connection), when the service owns it (the body
 * it builds, its signature), or when it is meant for something other than the receiver (a proxy). Each would make
 * every delivery fail in the client, or reach the receiver with different bytes from those configured.
 */

/**
 * Lower-case name → why it is reserved. Everything else is left to the tenant, notably `Authorization`, `Cookie`
 * and API-key headers, which receivers behind a gateway need.
 */
export const RESERVED_HEADER_NAMES: ReadonlyMap<string, string> = new Map([
  // Hop-by-hop (RFC 9110 §7.6.1), plus HTTP/2's connection-specific fields (RFC 9113 §8.2.2). They describe one
  // connection, which the HTTP client manages; undici refuses several of them outright.
  ['connection', 'hop-by-hop: the HTTP client manages the connection'],
  ['keep-alive', 'hop-by-hop: the HTTP client manages the connection'],
  ['proxy-connection', 'hop-by-hop: the HTTP client manages the connection'],
  ['te', 'hop-by-hop: the HTTP client manages the connection'],
  ['trailer', 'hop-by-hop: the service sends no trailers'],
  ['transfer-encoding', 'framing: the HTTP client frames the body'],
  ['upgrade', 'hop-by-hop: deliveries are plain requests, never upgraded'],
  ['http2-settings', 'hop-by-hop: the HTTP client negotiates the protocol'],
  // Framing and the request target.
  ['host', 'set from the endpoint URL'],
  ['content-length', 'framing: the HTTP client frames the body'],
  ['expect', 'the HTTP client sends the body at once and does not wait for 100 Continue'],
  // The body, which the service builds: identity-encoded JSON.
  ['content-type', 'the service sends application/json'],
  ['content-encoding', 'the service sends the body unencoded'],
  ['content-range', 'the service sends the whole body'],
  // For a proxy, never the receiver (with WSS_EGRESS_PROXY it would reach the operator's proxy).
  ['proxy-authorization', 'meant for a proxy, not the receiver'],
  ['proxy-authenticate', 'meant for a proxy, not the receiver'],
  ['user-agent', 'set by the service'],
]);

/** Name prefixes the service's own headers use (its signature and event headers). */
export const RESERVED_HEADER_PREFIXES: readonly string[] = ['x-wss-', 'webhook-'];

/** RFC 9110 §5.6.2 token: the only legal field name. Rules out HTTP/2 pseudo-headers such as `:authority`. */
const HEADER_NAME_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * RFC 9110 §5.5 field value: visible ASCII, space, tab and obs-text (sent as Latin-1 bytes). No CR, LF, NUL, DEL
 * or other controls (no header injection), nothing above U+00FF (it has no single-byte form). Obs-text is the byte
 * range 0x80-0xFF, but U+0080-U+009F are the C1 controls (NEL is U+0085): controls all the same, so refused too.
 */
const HEADER_VALUE = /^[\t\x20-\x7e\xa0-\xff]*$/;

export const MAX_HEADER_NAME_LENGTH = 128;
export const MAX_HEADER_VALUE_LENGTH = 2048;
/**
 * Headers a tenant adds to one request: an endpoint's static headers, the headers its transform returns, and the
 * two together as sent (a transform's header replaces a static one of the same name).
 */
export const MAX_STATIC_HEADERS = 32;
/**
 * All of a tenant's headers together (names, values and `: ` and CRLF per line), by the same three counts as
 * {@link MAX_STATIC_HEADERS}. Common servers refuse a request head over 8 to 16 KiB (nginx, Node) with 431 on
 * every attempt, and the service adds its own headers, so this leaves room for them.
 */
export const MAX_STATIC_HEADERS_BYTES = 8 * 1024;

/** Why `name` is reserved, or undefined when a tenant may set it. Case-insensitive. */
export function reservedHeaderReason(name: string): string | undefined {
  const lower = name.toLowerCase();
  const reason = RESERVED_HEADER_NAMES.get(lower);
  if (reason !== undefined) return reason;
  const prefix = RESERVED_HEADER_PREFIXES.find((p) => lower.startsWith(p));
  return prefix === undefined ? undefined : `the ${prefix}* headers are set by the service`;
}

/** Whether `name` is an HTTP token of 1 to {@link MAX_HEADER_NAME_LENGTH} characters (reserved or not). */
export function isLegalHeaderName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_HEADER_NAME_LENGTH && HEADER_NAME_TOKEN.test(name);
}

/**
 * Undefined when a tenant may send a header with this name, else why not. The message quotes nothing: names may
 * come from payload data (a transform), so callers name the header only once it is known to be a token.
 */
export function checkHeaderName(name: string): string | undefined {
  if (!isLegalHeaderName(name)) {
    return `is not a legal header name (an HTTP token of 1 to ${MAX_HEADER_NAME_LENGTH} characters)`;
  }
  const reason = reservedHeaderReason(name);
  return reason === undefined ? undefined : `is reserved (${reason})`;
}

/** Undefined when `value` can be sent as given, else why not. Never quotes the value (it may be a credential). */
export function checkHeaderValue(value: string, maxLength = MAX_HEADER_VALUE_LENGTH): string | undefined {
  if (value.length > maxLength) return `value is longer than ${maxLength} characters`;
  if (!HEADER_VALUE.test(value)) {
    return 'value must be visible characters, spaces and tabs only (no CR, LF, NUL or other C0 or C1 controls, nothing above U+00FF)';
  }
  // A receiver drops leading and trailing whitespace (RFC 9110 §5.5), so it would not get the configured value.
  if (/^[\t ]|[\t ]$/.test(value)) return 'value must not start or end with a space or tab';
  return undefined;
}

export interface HeaderProblem {
  /** The header concerned, or undefined for a problem with the set as a whole. */
  readonly name?: string;
  readonly message: string;
}

/**
 * Undefined when a set of a tenant's headers (static, a transform's, or both together as sent) is within
 * {@link MAX_STATIC_HEADERS} headers and {@link MAX_STATIC_HEADERS_BYTES} bytes, else why not. Quotes nothing.
 */
export function checkHeaderTotals(headers: Readonly<Record<string, string>>): string | undefined {
  const entries = Object.entries(headers);
  if (entries.length > MAX_STATIC_HEADERS) return `at most ${MAX_STATIC_HEADERS} headers`;
  // Values are sent one byte per character (Latin-1), so characters count bytes.
  const bytes = entries.reduce((sum, [name, value]) => sum + name.length + value.length + 4, 0);
  return bytes > MAX_STATIC_HEADERS_BYTES
    ? `headers take more than ${MAX_STATIC_HEADERS_BYTES} bytes in all`
    : undefined;
}

/**
 * Every problem with an endpoint's static headers; empty when they can all be sent as configured. Messages name
 * the header (a tenant's own configuration) and never quote a value.
 */
export function checkStaticHeaders(headers: Readonly<Record<string, string>>): HeaderProblem[] {
  const entries = Object.entries(headers);
  const problems: HeaderProblem[] = [];
  const seen = new Set<string>();
  for (const [name, value] of entries) {
    const nameProblem = checkHeaderName(name);
    if (nameProblem !== undefined) {
      problems.push({ name, message: `header "${name.slice(0, MAX_HEADER_NAME_LENGTH)}" ${nameProblem}` });
      continue;
    }
    const lower = name.toLowerCase();
    if (seen.has(lower)) {
      problems.push({ name, message: `header "${name}" is given twice (header names are case-insensitive)` });
      continue;
    }
    seen.add(lower);
    const valueProblem = checkHeaderValue(value);
    if (valueProblem !== undefined) problems.push({ name, message: `header "${name}": ${valueProblem}` });
  }
  const totals = checkHeaderTotals(headers);
  if (totals !== undefined) problems.push({ message: totals });
  return problems;
}
