import { isValidEventType } from './event-type';
import { EVENT_ID_PATTERN, RESOURCE_ID_PATTERN, eventIdFromEntryId } from './ids';

/** An event read from the stream and accepted: its identity, and its `data` still as the producer's JSON text. */
export interface AcceptedEntry {
  readonly tenantId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly occurredAt: string;
  /** The producer's JSON text, validated; stored as-is so retries send the same bytes. */
  readonly dataJson: string;
  /** `dataJson` parsed (validation parses it anyway; routing and filters need the value). */
  readonly data: unknown;
}

export type ParsedEntry =
  { readonly ok: true; readonly entry: AcceptedEntry } | { readonly ok: false; readonly reason: string };

export interface EntryLimits {
  /** Largest accepted `data` field in UTF-8 bytes. */
  readonly maxDataBytes: number;
}

const KNOWN_FIELDS = new Set(['tenant', 'type', 'data', 'id']);

/**
 * Turns a raw stream entry (`XADD wss:events * tenant T type X data JSON [id I]`) into an accepted event, or a
 * reason that goes into the dead-letter entry. Never throws: a malformed entry must not stop the consumer.
 *
 * `occurredAt` comes from the entry id's millisecond part, so it is the time Redis accepted the event and stays
 * the same when the entry is read again.
 */
export function parseStreamEntry(entryId: string, fields: readonly string[], limits: EntryLimits): ParsedEntry {
  if (fields.length % 2 !== 0) return { ok: false, reason: 'odd number of field/value items' };
  const values = new Map<string, string>();
  for (let i = 0; i < fields.length; i += 2) {
    const key = fields[i] as string;
    if (!KNOWN_FIELDS.has(key)) continue;
    if (values.has(key)) return { ok: false, reason: `field "${key}" appears more than once` };
    values.set(key, fields[i + 1] as string);
  }

  const tenantId = values.get('tenant');
  if (tenantId === undefined) return { ok: false, reason: 'missing field "tenant"' };
  if (!RESOURCE_ID_PATTERN.test(tenantId)) return { ok: false, reason: 'field "tenant" is not a valid tenant id' };

  const eventType = values.get('type');
  if (eventType === undefined) return { ok: false, reason: 'missing field "type"' };
  if (!isValidEventType(eventType)) return { ok: false, reason: 'field "type" is not a valid event type' };

  const dataJson = values.get('data');
  if (dataJson === undefined) return { ok: false, reason: 'missing field "data"' };
  const size = utf8Length(dataJson);
  if (size > limits.maxDataBytes) {
    return { ok: false, reason: `field "data" is ${size} bytes, over the ${limits.maxDataBytes}-byte limit` };
  }
  let data: unknown;
  try {
    data = JSON.parse(dataJson);
  } catch (err) {
    return { ok: false, reason: `field "data" is not valid JSON: ${(err as Error).message.slice(0, 200)}` };
  }

  const explicitId = values.get('id');
  if (explicitId !== undefined && !EVENT_ID_PATTERN.test(explicitId)) {
    return { ok: false, reason: 'field "id" is not a valid event id' };
  }

  const millis = Number(entryId.split('-')[0]);
  if (!Number.isSafeInteger(millis)) return { ok: false, reason: `entry id "${entryId}" is not a stream id` };

  return {
    ok: true,
    entry: {
      tenantId,
      eventType,
      dataJson,
      data,
      eventId: explicitId ?? eventIdFromEntryId(entryId),
      occurredAt: new Date(millis).toISOString(),
    },
  };
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
