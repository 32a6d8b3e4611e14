/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as a producer hands it to the service: the
 * `traceparent` and `tracestate` fields of a stream entry (or of a publish request). Parsed here, purely; the
 * tracing plumbing (`infra/tracing.ts`) turns valid headers into the parent of the consumer's span.
 */

/** The two W3C headers, as they are propagated. */
export interface TraceHeaders {
  readonly traceparent: string;
  readonly tracestate?: string;
}

export type ParsedTraceparent =
  | { readonly ok: true; readonly traceId: string; readonly spanId: string; readonly flags: number }
  | { readonly ok: false; readonly reason: string };

/** `version-traceid-parentid-flags`, lower-case hex, as level 1 defines them (55 characters). */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const VERSION_00_LENGTH = 55;
/** Longest tracestate propagated: W3C asks vendors to propagate at least 512 characters; more is not needed. */
const MAX_TRACESTATE_LENGTH = 512;
/** tracestate is printable ASCII (list members, `,` and optional spaces or tabs between them). */
const TRACESTATE_CHARS = /^[\x20-\x7e\t]*$/;

/**
 * Checks a `traceparent` value by the rules of W3C Trace Context level 1: version `00` is exactly 55 characters;
 * `ff` is invalid; a later version is read by its first 55 characters, which must be followed by the end or a
 * `-`. The trace id and the parent (span) id must not be all zeros. Hex digits are lower case. Reasons never quote
 * the value.
 */
export function parseTraceparent(value: string): ParsedTraceparent {
  const version = value.slice(0, 2);
  const head = version === '00' ? value : value.slice(0, VERSION_00_LENGTH);
  if (version !== '00' && value.length > VERSION_00_LENGTH && value[VERSION_00_LENGTH] !== '-') {
    return { ok: false, reason: 'is not version-traceid-parentid-flags' };
  }
  const match = TRACEPARENT.exec(head);
  if (!match) {
    return { ok: false, reason: 'is not version-traceid-parentid-flags in lower-case hex (version 00: 55 characters)' };
  }
  const [, , traceId, spanId, flags] = match as unknown as [string, string, string, string, string];
  if (version === 'ff') return { ok: false, reason: 'has the invalid version ff' };
  if (/^0+$/.test(traceId)) return { ok: false, reason: 'has a trace id that is all zeros' };
  if (/^0+$/.test(spanId)) return { ok: false, reason: 'has a parent id that is all zeros' };
  return { ok: true, traceId, spanId, flags: parseInt(flags, 16) };
}

export type ParsedTraceHeaders =
  | {
      readonly ok: true;
      readonly headers: TraceHeaders;
      /** Set when the tracestate was dropped (the traceparent is still used). */
      readonly problem?: string;
    }
  | { readonly ok: false; readonly problem: string };

/**
 * The trace context a producer sent, or why it is ignored. An invalid `traceparent` means no parent at all (W3C:
 * the tracestate is then not read either); an invalid `tracestate` is dropped and the traceparent kept. The
 * members of a tracestate are not checked one by one: the OpenTelemetry propagator drops the ones it cannot read.
 */
export function parseTraceHeaders(traceparent: string | undefined, tracestate: string | undefined): ParsedTraceHeaders {
  if (traceparent === undefined) {
    return { ok: false, problem: 'field "tracestate" without a "traceparent"; ignored' };
  }
  const parsed = parseTraceparent(traceparent);
  if (!parsed.ok) return { ok: false, problem: `field "traceparent" ${parsed.reason}; ignored` };
  if (tracestate === undefined) return { ok: true, headers: { traceparent } };
  if (tracestate.length > MAX_TRACESTATE_LENGTH || !TRACESTATE_CHARS.test(tracestate)) {
    return {
      ok: true,
      headers: { traceparent },
      problem: 'field "tracestate" is not a valid W3C tracestate; dropped',
    };
  }
  return { ok: true, headers: { traceparent, tracestate } };
}
