import type { DeadLetterReasonCode } from './errors';
import { isValidEventType } from './event-type';
import type { EndpointId, EventId, TenantId } from './ids';
import { eventIdFromEntryId, isEndpointId, isEventId, isTenantId } from './ids';
import { jsonNestingDepth } from './json-text';
import { MAX_ORDERING_KEY_LENGTH, ORDERING_STREAM_FIELD } from './ordering';
import type { TraceHeaders } from './trace-context';
import { parseTraceHeaders } from './trace-context';

/** An event read from the stream and accepted: its identity, and its `data` still as the producer's JSON text. */
export interface AcceptedEntry {
  readonly tenantId: TenantId;
  readonly eventId: EventId;
  readonly eventType: string;
  readonly occurredAt: string;
  /** The producer's JSON text, validated; stored as-is so retries send the same bytes. */
  readonly dataJson: string;
  /** `dataJson` parsed (validation parses it anyway; routing and filters need the value). */
  readonly data: unknown;
  /** The producer's W3C trace context (`traceparent`, `tracestate` fields), when it sent a valid one. */
  readonly trace?: TraceHeaders;
  /**
   * Why the producer's trace context was ignored or its tracestate dropped. Never a reason to refuse the event:
   * tracing is diagnostics, and an event is delivered whatever its trace context.
   */
  readonly traceProblem?: string;
  /** The producer's `orderingKey` field: the ordering key of endpoints whose ordering names the stream field. */
  readonly orderingKey?: string;
  /**
   * The service's `wss_endpoint` field (the API's test send): the event is routed to this endpoint only, by the
   * usual rules (enabled, subscribed, filter).
   */
  readonly onlyEndpoint?: EndpointId;
}

/**
 * Why an entry was refused: a stable word, written to the dead-letter entry as `wss_reason_code` next to the
 * human-readable `wss_reason`. The words are the registry's dead-letter codes (`errors.ts`).
 */
export type EntryRejectionCode = DeadLetterReasonCode;

export type ParsedEntry =
  | { readonly ok: true; readonly entry: AcceptedEntry }
  | { readonly ok: false; readonly code: EntryRejectionCode; readonly reason: string };

export interface EntryLimits {
  /** Largest accepted `data` field in UTF-8 bytes. */
  readonly maxDataBytes: number;
  /** Deepest nesting of arrays and objects accepted in `data` (see `jsonNestingDepth`). */
  readonly maxDepth: number;
}

/**
 * Field names starting with this prefix belong to the service: the dead-letter stream adds `wss_reason`,
 * `wss_source_id`, ... to a producer's fields. A producer entry that carries one is refused (`reserved_field`), and
 * in its dead-letter copy the producer's field is renamed with {@link PRODUCER_FIELD_ESCAPE} in front.
 */
export const RESERVED_FIELD_PREFIX = 'wss_';
/** Prepended to a producer's `wss_…` field name in a dead-letter copy: `wss_reason` becomes `wss_producer_wss_reason`. */
export const PRODUCER_FIELD_ESCAPE = 'wss_producer_';

/** What Redis hands out as a stream entry id: `<milliseconds>-<sequence>`. */
const STREAM_ENTRY_ID = /^\d{1,20}-\d{1,20}$/;

const KNOWN_FIELDS = new Set(['tenant', 'type', 'data', 'id', ORDERING_STREAM_FIELD]);
/** The one service field an entry may carry: the API's test send writes it (see {@link AcceptedEntry.onlyEndpoint}). */
export const ONLY_ENDPOINT_FIELD = 'wss_endpoint';
/** Optional W3C trace context of the producer; never refuses an entry (see {@link AcceptedEntry.traceProblem}). */
const TRACE_FIELDS = new Set(['traceparent', 'tracestate']);
/** Field names this safe to echo in a reason; anything else is referred to by its position. */
const NAMEABLE_FIELD = /^[A-Za-z0-9_.:-]{1,64}$/;

type RawField = string | Uint8Array;

/**
 * Turns a raw stream entry (`XADD wss:events * tenant T type X data JSON [id I]`) into an accepted event, or a
 * reason that goes into the dead-letter entry. Never throws: a malformed entry must not stop the consumer.
 *
 * Fields may be given as the bytes Redis holds (the consumer reads them so); every name and value must then be
 * valid UTF-8, decoded strictly: a replacement character would silently change what the producer published.
 * Reasons name fields but never quote their values, which may be anything, card numbers included.
 *
 * `occurredAt` comes from the entry id's millisecond part, so it is the time Redis accepted the event and stays
 * the same when the entry is read again.
 */
export function parseStreamEntry(entryId: string, raw: readonly RawField[], limits: EntryLimits): ParsedEntry {
  if (raw.length % 2 !== 0) return reject('malformed_entry', 'odd number of field/value items');
  const decoded = decodeFields(raw);
  if (!decoded.ok) return decoded;
  const fields = decoded.fields;

  const values = new Map<string, string>();
  const traceValues = new Map<string, string>();
  let repeatedTraceField: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const key = fields[i] as string;
    if (key === ONLY_ENDPOINT_FIELD) {
      if (values.has(key)) return reject('duplicate_field', `field "${key}" appears more than once`);
      values.set(key, fields[i + 1] as string);
      continue;
    }
    if (key.startsWith(RESERVED_FIELD_PREFIX)) {
      return reject(
        'reserved_field',
        `${describeField(key, i)} uses the reserved prefix "${RESERVED_FIELD_PREFIX}" (the service's own fields)`,
      );
    }
    if (TRACE_FIELDS.has(key)) {
      // W3C: several traceparent (or tracestate) headers make the context invalid, not the request.
      if (traceValues.has(key)) repeatedTraceField = key;
      traceValues.set(key, fields[i + 1] as string);
      continue;
    }
    if (!KNOWN_FIELDS.has(key)) continue;
    if (values.has(key)) return reject('duplicate_field', `field "${key}" appears more than once`);
    values.set(key, fields[i + 1] as string);
  }

  const tenantId = values.get('tenant');
  if (tenantId === undefined) return reject('missing_field', 'missing field "tenant"');
  if (!isTenantId(tenantId)) return reject('invalid_field', 'field "tenant" is not a valid tenant id');

  const eventType = values.get('type');
  if (eventType === undefined) return reject('missing_field', 'missing field "type"');
  if (!isValidEventType(eventType)) return reject('invalid_field', 'field "type" is not a valid event type');

  const dataJson = values.get('data');
  if (dataJson === undefined) return reject('missing_field', 'missing field "data"');
  const size = utf8Length(dataJson);
  if (size > limits.maxDataBytes) {
    return reject('too_large', `field "data" is ${size} bytes, over the ${limits.maxDataBytes}-byte limit`);
  }
  // Before parsing: everything after JSON.parse recurses, and such data could never be delivered.
  if (jsonNestingDepth(dataJson, limits.maxDepth) > limits.maxDepth) {
    return reject('too_deep', `field "data" nests deeper than the ${limits.maxDepth}-level limit`);
  }
  let data: unknown;
  try {
    data = JSON.parse(dataJson);
  } catch (err) {
    return reject('invalid_json', `field "data" is not valid JSON${jsonErrorPosition(err)}`);
  }

  const explicitId = values.get('id');
  if (explicitId !== undefined && !isEventId(explicitId)) {
    return reject('invalid_field', 'field "id" is not a valid event id');
  }

  const orderingKey = values.get(ORDERING_STREAM_FIELD);
  if (orderingKey !== undefined && orderingKey.length > MAX_ORDERING_KEY_LENGTH) {
    return reject('invalid_field', `field "${ORDERING_STREAM_FIELD}" is over ${MAX_ORDERING_KEY_LENGTH} characters`);
  }

  const onlyEndpoint = values.get(ONLY_ENDPOINT_FIELD);
  if (onlyEndpoint !== undefined && !isEndpointId(onlyEndpoint)) {
    return reject('invalid_field', `field "${ONLY_ENDPOINT_FIELD}" is not a valid endpoint id`);
  }

  const millis = Number(entryId.split('-')[0]);
  // Checked whole, not only its time part: the derived event id is built from it.
  if (!STREAM_ENTRY_ID.test(entryId) || !Number.isSafeInteger(millis)) {
    return reject('malformed_entry', `entry id ${JSON.stringify(entryId)} is not a stream id`);
  }

  return {
    ok: true,
    entry: {
      tenantId,
      eventType,
      dataJson,
      data,
      eventId: explicitId ?? eventIdFromEntryId(entryId),
      occurredAt: new Date(millis).toISOString(),
      ...traceContext(traceValues, repeatedTraceField),
      ...(orderingKey !== undefined && orderingKey !== '' ? { orderingKey } : {}),
      ...(onlyEndpoint !== undefined ? { onlyEndpoint } : {}),
    },
  };
}

/** The entry's trace context, or why it is ignored; nothing when the producer sent no trace field. */
function traceContext(
  values: ReadonlyMap<string, string>,
  repeated: string | undefined,
): Pick<AcceptedEntry, 'trace' | 'traceProblem'> {
  if (values.size === 0) return {};
  if (repeated !== undefined) return { traceProblem: `field "${repeated}" appears more than once; ignored` };
  const parsed = parseTraceHeaders(values.get('traceparent'), values.get('tracestate'));
  if (!parsed.ok) return { traceProblem: parsed.problem };
  return { trace: parsed.headers, ...(parsed.problem !== undefined ? { traceProblem: parsed.problem } : {}) };
}

function reject(code: EntryRejectionCode, reason: string): ParsedEntry {
  return { ok: false, code, reason };
}

/** Decodes names and values strictly as UTF-8; a byte order mark is kept, not swallowed. */
function decodeFields(
  raw: readonly RawField[],
): { ok: true; fields: string[] } | { ok: false; code: EntryRejectionCode; reason: string } {
  let decoder: InstanceType<typeof TextDecoder> | undefined;
  const fields: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const item = raw[i] as RawField;
    if (typeof item === 'string') {
      fields.push(item);
      continue;
    }
    decoder ??= new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    try {
      fields.push(decoder.decode(item));
    } catch {
      const isName = i % 2 === 0;
      const what = isName ? `the name of field #${i / 2 + 1}` : describeField(fields[i - 1] as string, i - 1);
      return { ok: false, code: 'invalid_utf8', reason: `${what} is not valid UTF-8` };
    }
  }
  return { ok: true, fields };
}

/** `field "data"`, or `field #3` when the name itself is not fit to print. `index` is the name's item index. */
function describeField(name: string, index: number): string {
  return NAMEABLE_FIELD.test(name) ? `field "${name}"` : `field #${index / 2 + 1}`;
}

/**
 * The position V8 reports for a JSON syntax error, and nothing else: its messages quote the text around the error
 * (`Unexpected token 'c', "card=41111"...`), which is payload and must not reach a dead letter or a log.
 */
function jsonErrorPosition(err: unknown): string {
  const match = err instanceof Error ? /position (\d+)/.exec(err.message) : null;
  return match ? ` (at character ${match[1]})` : '';
}

/** UTF-8 byte length without allocating a buffer (TextEncoder is not available in the workflow sandbox). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
