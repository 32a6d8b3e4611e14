import type { Endpoint } from './endpoint';
import type { EventEnvelope } from './event';
import { ValidationError } from './errors';
import type { EndpointId, TenantId } from './ids';

/*
 * Opt-in ordered delivery per key: which key an event gets for an endpoint, and the identity of the key's lane (the
 * sequencer workflow that delivers the key's events one at a time). Pure and sandbox-safe: the consumer, the dry
 * run and the workflow all use it. The design is in the README ("Ordered delivery").
 */

/** What happens to a key after its head was dead-lettered: go on with the next event, or hold the key until resumed. */
export type OrderingFailureAction = 'continue' | 'pause';

/** An endpoint's ordering: the key every event gets, and what a failed head does to its key. */
export interface OrderingSpec {
  /** A path into the event envelope (`$.data.order.id`), or {@link ORDERING_STREAM_FIELD}. */
  readonly key: string;
  readonly onFailure: OrderingFailureAction;
}

/** The key names the stream entry's own `orderingKey` field (set by the producer, or by the publish API). */
export const ORDERING_STREAM_FIELD = 'orderingKey';

/** Longest key path accepted, and the longest key value (stream field or resolved path) used as a key. */
export const MAX_ORDERING_PATH_LENGTH = 256;
export const MAX_ORDERING_KEY_LENGTH = 1024;

type PathSegment = string | number;

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*/;

/**
 * Parses a key path: `$` then segments `.name`, `[3]` or `["any name"]` (`'` quotes too), e.g.
 * `$.data.order.id`, `$.data.items[0].sku`, `$["data"]["order-id"]`. No wildcards, filters or recursion: a key is
 * one value.
 *
 * @throws ValidationError naming `field` when the text is not such a path.
 */
export function parseOrderingPath(text: string, field = 'ordering.key'): PathSegment[] {
  const fail = (why: string): never => {
    throw new ValidationError(
      `${field}: ${why}; expected "${ORDERING_STREAM_FIELD}" or a path like "$.data.order.id"`,
      field,
    );
  };
  if (text.length > MAX_ORDERING_PATH_LENGTH) fail(`longer than ${MAX_ORDERING_PATH_LENGTH} characters`);
  if (!text.startsWith('$')) fail('a path must start with "$"');
  const segments: PathSegment[] = [];
  let rest = text.slice(1);
  while (rest.length > 0) {
    if (rest.startsWith('.')) {
      const name = NAME.exec(rest.slice(1));
      if (!name) fail(`a name must follow "." at character ${text.length - rest.length + 1}`);
      segments.push((name as RegExpExecArray)[0]);
      rest = rest.slice(1 + (name as RegExpExecArray)[0].length);
      continue;
    }
    const index = /^\[(\d+)\]/.exec(rest);
    if (index) {
      if ((index[1] ?? '').length > 6)
        fail(`an index has at most 6 digits, at character ${text.length - rest.length + 1}`);
      segments.push(Number(index[1]));
      rest = rest.slice(index[0].length);
      continue;
    }
    const quoted = /^\[(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\]/.exec(rest);
    if (quoted) {
      const raw = quoted[1] ?? quoted[2] ?? '';
      segments.push(raw.replace(/\\(.)/g, '$1'));
      rest = rest.slice(quoted[0].length);
      continue;
    }
    fail(`unexpected text at character ${text.length - rest.length + 1}`);
  }
  if (segments.length === 0) fail('the path names no field');
  return segments;
}

/**
 * Checks an ordering spec given to the API: the key is {@link ORDERING_STREAM_FIELD} or a valid path.
 *
 * @throws ValidationError naming `ordering.key`.
 */
export function assertOrderingKey(key: string): void {
  if (key !== ORDERING_STREAM_FIELD) parseOrderingPath(key);
}

/**
 * Why `key` is not an ordering key, without the field name (for a schema that names the field itself), or
 * undefined when it is one.
 */
export function orderingKeyProblem(key: string): string | undefined {
  try {
    assertOrderingKey(key);
    return undefined;
  } catch (err) {
    if (err instanceof ValidationError) return err.message.replace(/^ordering\.key: /, '');
    throw err;
  }
}

/** The key an event gets for an endpoint, or why it gets none (it is then delivered without ordering). */
export type OrderingKeyResult = { readonly key: string } | { readonly key: undefined; readonly reason: string };

/**
 * The ordering key of an event for an ordering spec. A path must end at a non-empty string or a finite number
 * (written as JSON writes it); the stream field must be present and non-empty. An event without a key is
 * delivered without ordering: there is nothing to order it against.
 *
 * @param streamKey the entry's `orderingKey` field, when it has one.
 */
export function orderingKeyOf(
  spec: Pick<OrderingSpec, 'key'>,
  envelope: EventEnvelope,
  streamKey: string | undefined,
): OrderingKeyResult {
  if (spec.key === ORDERING_STREAM_FIELD) {
    if (streamKey === undefined || streamKey === '') {
      return { key: undefined, reason: `the event has no "${ORDERING_STREAM_FIELD}" stream field` };
    }
    return { key: streamKey };
  }
  let segments: PathSegment[];
  try {
    segments = parseOrderingPath(spec.key);
  } catch {
    return { key: undefined, reason: 'the stored key path does not parse' };
  }
  let value: unknown = {
    id: envelope.id,
    type: envelope.type,
    tenant: envelope.tenant,
    occurredAt: envelope.occurredAt,
    data: envelope.data,
  };
  for (const segment of segments) {
    if (value === null || typeof value !== 'object') {
      value = undefined;
      break;
    }
    if (typeof segment === 'number') value = Array.isArray(value) ? value[segment] : undefined;
    else
      value =
        Array.isArray(value) || !Object.hasOwn(value, segment)
          ? undefined
          : (value as Record<string, unknown>)[segment];
  }
  if (typeof value === 'number' && Number.isFinite(value)) return { key: JSON.stringify(value) };
  if (typeof value === 'string' && value !== '') {
    if (value.length > MAX_ORDERING_KEY_LENGTH) {
      return { key: undefined, reason: `the value at ${spec.key} is over ${MAX_ORDERING_KEY_LENGTH} characters` };
    }
    return { key: value };
  }
  return { key: undefined, reason: `${spec.key} is not a non-empty string or a number in this event` };
}

/** An endpoint an event is routed to with ordering, and the key it got. */
export interface OrderedRoute {
  readonly endpoint: Endpoint;
  readonly key: string;
}

/**
 * Splits the endpoints an event was routed to: those with ordering and a key for this event go through their key's
 * lane, the rest (no ordering, or no key in this event) through the per-event delivery workflow, as before.
 */
export function splitOrderedRoutes(
  selected: readonly Endpoint[],
  envelope: EventEnvelope,
  streamKey: string | undefined,
): { ordered: OrderedRoute[]; unordered: Endpoint[] } {
  const ordered: OrderedRoute[] = [];
  const unordered: Endpoint[] = [];
  for (const endpoint of selected) {
    const result = endpoint.ordering ? orderingKeyOf(endpoint.ordering, envelope, streamKey) : undefined;
    if (result?.key !== undefined) ordered.push({ endpoint, key: result.key });
    else unordered.push(endpoint);
  }
  return { ordered, unordered };
}

const FNV_PRIME = 0x100000001b3n;
const MASK_64 = (1n << 64n) - 1n;

/** FNV-1a over the key's UTF-8 bytes, 64 bits, from `offset`. */
function fnv1a64(text: string, offset: bigint): bigint {
  let hash = offset;
  const step = (byte: number): void => {
    hash ^= BigInt(byte);
    hash = (hash * FNV_PRIME) & MASK_64;
  };
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (code < 0x80) step(code);
    else if (code < 0x800) {
      step(0xc0 | (code >> 6));
      step(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      step(0xe0 | (code >> 12));
      step(0x80 | ((code >> 6) & 0x3f));
      step(0x80 | (code & 0x3f));
    } else {
      step(0xf0 | (code >> 18));
      step(0x80 | ((code >> 12) & 0x3f));
      step(0x80 | ((code >> 6) & 0x3f));
      step(0x80 | (code & 0x3f));
    }
  }
  return hash;
}

/**
 * The key's fixed-size name in workflow ids, search and the API (32 hex digits): the key itself may be long, may hold
 * any character and is event data, so it never goes into a workflow id or history. Two FNV-1a 64-bit hashes with
 * different offsets; not cryptographic. Two keys that collided would share one lane: still each in order, only no
 * longer in parallel with each other (and a pause would hold both).
 */
export function orderingKeyHash(key: string): string {
  const a = fnv1a64(key, 0xcbf29ce484222325n);
  const b = fnv1a64(key, 0x84222325cbf29ce4n);
  return a.toString(16).padStart(16, '0') + b.toString(16).padStart(16, '0');
}

/** A key hash as the API takes it. */
export const ORDERING_KEY_HASH_PATTERN = /^[0-9a-f]{32}$/;

/**
 * The lane of one (tenant, endpoint, key): one sequencer workflow id, bounded in length whatever the key. Its runs
 * come and go (continue-as-new, completion when idle); the id stays.
 */
export function orderedLaneWorkflowId(tenantId: TenantId, endpointId: EndpointId, keyHash: string): string {
  return `ordered:${tenantId}:${endpointId}:${keyHash}`;
}

/** Orders two stream entry ids (`<ms>-<seq>`) as Redis does: -1, 0 or 1. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = compareDigits(am, bm);
  return ms !== 0 ? ms : compareDigits(as, bs);
}

function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x === y ? 0 : x < y ? -1 : 1;
}
