import jsonata from 'jsonata';
import { isSafeNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { RE2JS } from 're2js';
import { ValidationError, WssError } from '../domain/errors';
import type { EventEnvelope, EventText } from '../domain/event';
import {
  MAX_HEADER_NAME_LENGTH,
  MAX_STATIC_HEADERS,
  RESERVED_HEADER_NAMES,
  RESERVED_HEADER_PREFIXES,
  checkHeaderName,
  checkHeaderTotals,
  checkHeaderValue,
  isLegalHeaderName,
} from '../domain/http-headers';

/**
 * Per-endpoint JSONata transforms, run inside the delivery activity.
 *
 * The expression sees the event envelope (`id`, `type`, `tenant`, `occurredAt`, `data`) as its input. Result
 * shape: when the expression evaluates to an object that has a `body` key and no keys besides `body`, `headers`
 * and `eventType`, it is read as `{ body, headers?, eventType? }`; any other value is the body itself. So
 * `{"orderId": data.order.id}` sends that object, and `{"body": data.order, "headers": {"X-Shop": tenant}}` sends
 * `data.order` with one extra header. Note that JSONata drops keys whose value is undefined, so
 * `{"body": data.missing, "headers": {...}}` has no `body` key and is sent whole, as the body.
 *
 * Numbers: JSONata computes on IEEE-754 doubles. A number in `data` that a double cannot hold exactly (an
 * integer beyond ±2^53, more than 17 significant digits, `1e400`) is read as the nearest double, and arithmetic,
 * comparison and string conversion (`&`, `$string`) see that double. When such a number reaches the result
 * unchanged (selected, not converted to text), it is written back with the digits the producer sent: a result
 * number that is bit-for-bit the double of exactly one such spelling in the event's data takes that spelling.
 * Other numbers are written as `JSON.stringify` writes them (`1.0` → `1`, `1E5` → `100000`, `-0` → `0`).
 *
 * This module evaluates in the calling thread. Tenants' transforms run through {@link TransformPool}
 * (`transform-pool.ts`), which calls it from worker threads with hard time and memory limits.
 */

/** Longest accepted expression, in UTF-8 bytes. */
export const MAX_TRANSFORM_BYTES = 16 * 1024;
/** Default bound on nested evaluation frames; deep enough for ~300 levels of non-tail recursion. */
export const DEFAULT_TRANSFORM_MAX_DEPTH = 1000;
/** Longest `eventType` a transform may set. */
export const MAX_TRANSFORMED_EVENT_TYPE_LENGTH = 128;

/** An expression parsed and checked once, to run against many events. Opaque outside this module. */
export interface CompiledTransform {
  /** The source text, for logs and the API. */
  readonly expression: string;
}

/** Bounds on one evaluation. The delivery activity supplies them from config. */
export interface TransformRunLimits {
  /** Wall-clock budget of one evaluation, in ms; checked at every evaluation step. */
  readonly timeoutMs: number;
  /** Largest body the transform may produce, in UTF-8 bytes of the JSON text. */
  readonly maxOutputBytes: number;
  /** Deepest nesting of evaluation frames (recursion guard). Default {@link DEFAULT_TRANSFORM_MAX_DEPTH}. */
  readonly maxDepth?: number;
}

/** What a transform produced, ready for the request builder. */
export interface TransformResult {
  /** The JSON text to send: exactly `JSON.stringify` of the body value. */
  readonly body: string;
  /** Extra headers set by the transform, checked by the static-header rule (`domain/http-headers`); empty when none. */
  readonly headers: Record<string, string>;
  /** Replacement event type, when the transform set one. */
  readonly eventType?: string;
}

/**
 * A transform failed on a particular event: a JSONata runtime error, a limit exceeded, or a result of the wrong
 * shape. Permanent, because the same expression on the same event fails the same way on every attempt. The
 * message carries JSONata's message and position but never payload values (they are replaced by `<value>`).
 */
export class TransformFailedError extends WssError {
  readonly code = 'transform_failed';
  constructor(
    message: string,
    /** JSONata's error code (`D1012`, `T2001`, ...) when the failure came from JSONata. */
    readonly jsonataCode?: string,
    /** Character offset in the expression where JSONata failed. */
    readonly position?: number,
    /** Never JSONata's own error as the cause: its fields quote payload values. */
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Fields JSONata puts on the plain objects it throws. */
interface JsonataErrorLike {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly position?: unknown;
  readonly token?: unknown;
  readonly value?: unknown;
  readonly value2?: unknown;
  readonly exp?: unknown;
}

interface CompiledState extends CompiledTransform {
  /**
   * One parsed expression per distinct (timeout, depth) pair. JSONata's own guard rails (`timeout`, `stack`) are
   * fixed when an expression is parsed, and limits arrive per run; in practice there is one pair per process.
   */
  readonly byLimits: Map<string, jsonata.Expression>;
}

const compiledStates = new WeakMap<CompiledTransform, CompiledState>();

/**
 * Parses and checks a JSONata expression.
 *
 * @throws ValidationError for an empty or over-long (> {@link MAX_TRANSFORM_BYTES}) expression, a syntax error
 *   (`transform: Expected ")" before end of expression at position 7`), or a regular expression literal that
 *   RE2 cannot run (backreferences, lookaround).
 */
export function compileTransform(expression: string): CompiledTransform {
  if (expression.trim().length === 0) throw new ValidationError('transform: expression is empty', 'transform');
  if (Buffer.byteLength(expression, 'utf8') > MAX_TRANSFORM_BYTES) {
    throw new ValidationError(`transform: expression is longer than ${MAX_TRANSFORM_BYTES} bytes`, 'transform');
  }
  let parsed: jsonata.Expression;
  try {
    parsed = jsonata(expression);
  } catch (err) {
    throw new ValidationError(`transform: ${describeJsonataError(err)}`, 'transform');
  }
  checkRegexLiterals(parsed.ast());
  const compiled: CompiledTransform = Object.freeze({ expression });
  compiledStates.set(compiled, { expression, byLimits: new Map() });
  return compiled;
}

/**
 * Evaluates a compiled transform against one event and shapes the result, in the calling thread.
 *
 * `event` is either the stored form ({@link EventText}: `data` as the producer's JSON text, read losslessly) or an
 * envelope whose `data` is already parsed. Limits are enforced during evaluation by JSONata's guard rails, checked
 * at every evaluation step: a runaway loop fails with a timeout, a runaway non-tail recursion with a depth error.
 * Regular expressions run on RE2, so a single regex step is linear too. One built-in call on a huge value
 * (`$string([1..10000000])`) is NOT interruptible here, and nothing bounds memory: code a tenant supplies must
 * run through {@link TransformPool}, which adds a hard deadline and a heap cap around this function.
 *
 * @throws TransformFailedError for runtime errors, exceeded limits, an `undefined` result, a function in the
 *   result, malformed `headers` or `eventType`, or a body over `limits.maxOutputBytes`.
 */
export async function runTransform(
  compiled: CompiledTransform,
  event: EventEnvelope | EventText,
  limits: TransformRunLimits,
): Promise<TransformResult> {
  const expression = expressionFor(compiled, limits);
  const { envelope, spellings } =
    'dataJson' in event ? readEventText(event) : { envelope: event, spellings: undefined };
  let value: unknown;
  try {
    value = (await expression.evaluate(envelope)) as unknown;
  } catch (err) {
    throw toTransformFailed(err, limits, expression.ast());
  }
  if (value === undefined) throw new TransformFailedError('transform: transform produced no value');
  const shaped = splitResult(value);
  if (shaped.body === undefined) throw new TransformFailedError('transform: transform produced no body value');
  const body = serializeBody(shaped.body, spellings);
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > limits.maxOutputBytes) {
    throw new TransformFailedError(`transform: output is ${bytes} bytes, over the limit of ${limits.maxOutputBytes}`);
  }
  return {
    body,
    headers: shaped.headers === undefined ? {} : checkHeaders(shaped.headers),
    ...(shaped.eventType === undefined ? {} : { eventType: checkEventType(shaped.eventType) }),
  };
}

/**
 * For each double that stands for a number spelling in the data that a double cannot hold exactly, that
 * spelling; `null` when the double is ambiguous (two different spellings in the data share it).
 */
type NumberSpellings = ReadonlyMap<number, string | null>;

/**
 * Parses the event's data text as `JSON.parse` would (duplicate keys: the last wins; `__proto__` is an ordinary
 * key), and notes the spellings of numbers that a double cannot hold exactly.
 */
function readEventText(event: EventText): { envelope: EventEnvelope; spellings: NumberSpellings } {
  const unsafe = new Map<number, string | null>();
  const safe = new Set<number>();
  let data: unknown;
  try {
    data = parseLossless(event.dataJson, null, {
      parseNumber: (text: string) => {
        const value = Number(text);
        if (isSafeNumber(text)) {
          safe.add(value);
        } else {
          const seen = unsafe.get(value);
          unsafe.set(value, seen === undefined || seen === text ? text : null);
        }
        return value;
      },
      onDuplicateKey: ({ newValue }) => newValue,
    });
  } catch (err) {
    // The parser's message quotes the text around the fault; it must not reach logs or history.
    throw new TransformFailedError(
      err instanceof RangeError
        ? 'transform: event data is nested too deeply'
        : 'transform: event data is not valid JSON',
    );
  }
  // `0.1` and `0.10000000000000000001` share a double: a 0.1 in the result cannot say which one it came from.
  for (const value of safe) if (unsafe.has(value)) unsafe.set(value, null);
  const envelope: EventEnvelope = {
    id: event.id,
    type: event.type,
    tenant: event.tenant,
    occurredAt: event.occurredAt,
    data,
  };
  return { envelope, spellings: unsafe };
}

function expressionFor(compiled: CompiledTransform, limits: TransformRunLimits): jsonata.Expression {
  const state = compiledStates.get(compiled);
  if (state === undefined) throw new TypeError('runTransform needs a value returned by compileTransform');
  const maxDepth = limits.maxDepth ?? DEFAULT_TRANSFORM_MAX_DEPTH;
  if (!(limits.timeoutMs > 0) || !(maxDepth > 0)) throw new RangeError('transform limits must be positive');
  const key = `${limits.timeoutMs}/${maxDepth}`;
  let expression = state.byLimits.get(key);
  if (expression === undefined) {
    // Not the test-suite "timeboxExpression" hooks: they keep the start time and depth in one closure per
    // expression, which breaks once a compiled transform is cached and evaluated concurrently. These options
    // are the same checks, kept per evaluation by JSONata itself.
    expression = jsonata(state.expression, {
      timeout: limits.timeoutMs,
      stack: maxDepth,
      // Typed as RegExpConstructor, but JSONata only calls `new`, `lastIndex` and `exec` (see Re2RegExp).
      RegexEngine: Re2RegExp as unknown as RegExpConstructor,
    });
    state.byLimits.set(key, expression);
  }
  return expression;
}

/**
 * Stands in for `RegExp` inside JSONata (`$match`, `$replace`, `$split`, `$contains` with a regex literal), so
 * a hostile pattern cannot stall the worker. JSONata only constructs it from its own literal, sets `lastIndex`
 * and calls `exec`.
 */
class Re2RegExp {
  lastIndex = 0;
  private readonly re: RE2JS;

  constructor(literal: RegExp) {
    this.re = RE2JS.compile(RE2JS.translateRegExp(literal));
  }

  exec(input: string): RegExpExecArray | null {
    const matcher = this.re.matcher(input);
    if (this.lastIndex > input.length || !matcher.find(this.lastIndex)) {
      this.lastIndex = 0;
      return null;
    }
    const groups: (string | undefined)[] = [];
    for (let i = 0; i <= matcher.groupCount(); i++) groups.push(matcher.group(i) ?? undefined);
    this.lastIndex = matcher.end();
    return Object.assign(groups, { index: matcher.start(), input }) as RegExpExecArray;
  }
}

function checkRegexLiterals(ast: unknown): void {
  const seen = new Set<unknown>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    if (node instanceof RegExp) return;
    const record = node as Record<string, unknown>;
    if (record['type'] === 'regex' && record['value'] instanceof RegExp) {
      try {
        RE2JS.compile(RE2JS.translateRegExp(record['value']));
      } catch (err) {
        const detail = err instanceof Error ? err.message : 'cannot be compiled';
        const at = typeof record['position'] === 'number' ? ` at position ${record['position']}` : '';
        throw new ValidationError(`transform: unsupported regular expression${at}: ${detail}`, 'transform');
      }
    }
    for (const child of Object.values(record)) visit(child);
  };
  visit(ast);
}

function splitResult(value: unknown): { body: unknown; headers?: unknown; eventType?: unknown } {
  if (isPlainRecord(value) && Object.prototype.hasOwnProperty.call(value, 'body')) {
    const keys = Object.keys(value);
    if (keys.every((key) => key === 'body' || key === 'headers' || key === 'eventType')) {
      return { body: value['body'], headers: value['headers'], eventType: value['eventType'] };
    }
  }
  return { body: value };
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isJsonataFunction(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return record['_jsonata_lambda'] === true || record['_jsonata_function'] === true;
}

/**
 * `JSON.stringify`, refusing functions instead of silently dropping them (or serialising a closure), and refusing
 * non-finite numbers instead of writing `null`. A number that stands for exactly one unsafe spelling in the data
 * (see {@link readEventText}) is written with that spelling.
 */
function serializeBody(body: unknown, spellings: NumberSpellings | undefined): string {
  if (isJsonataFunction(body)) throw new TransformFailedError('transform: result is a function, not JSON');
  const spelled = (item: unknown): item is number =>
    typeof item === 'number' && typeof spellings?.get(item) === 'string';
  const replacer = (_key: string, item: unknown): unknown => {
    if (isJsonataFunction(item)) throw new TransformFailedError('transform: result contains a function, not JSON');
    if (typeof item === 'number' && !Number.isFinite(item) && !spelled(item)) {
      throw new TransformFailedError('transform: result contains a number that JSON cannot represent');
    }
    return item;
  };
  let text: string | undefined;
  try {
    text =
      spellings !== undefined && spellings.size > 0
        ? stringifyLossless(body, replacer, undefined, [
            { test: spelled, stringify: (item) => spellings.get(item as number) as string },
          ])
        : JSON.stringify(body, replacer);
  } catch (err) {
    if (err instanceof TransformFailedError) throw err;
    if (err instanceof RangeError) throw tooLarge(err);
    throw new TransformFailedError('transform: result cannot be serialised as JSON');
  }
  if (text === undefined) throw new TransformFailedError('transform: result cannot be serialised as JSON');
  return text;
}

/** A RangeError from V8 is either the stack or a string/array over V8's length limits. */
function tooLarge(err: RangeError): TransformFailedError {
  if (/call stack/i.test(err.message)) {
    return new TransformFailedError(
      'transform: evaluation overflowed the stack; check for runaway recursion',
      undefined,
      undefined,
      { cause: err },
    );
  }
  return new TransformFailedError(
    'transform: evaluation built a string or array over the length limit',
    undefined,
    undefined,
    { cause: err },
  );
}

/**
 * The transform's headers, held to the rule static headers follow (`src/domain/http-headers.ts`): the same
 * reserved names, the same name and value syntax, and the same totals. A header that breaks it fails the
 * delivery (and the dry run) as `transform_failed`, naming the header: it is never sent, dropped or replaced.
 *
 * Names and values may be computed from the payload, so a message names a header only once it is known to be a
 * well-formed token, and never echoes a value.
 */
function checkHeaders(headers: unknown): Record<string, string> {
  if (!isPlainRecord(headers)) throw new TransformFailedError('transform: headers must be an object of strings');
  const entries = Object.entries(headers);
  // Counted first, so that a result with a million keys costs no more than one with 33.
  if (entries.length > MAX_STATIC_HEADERS) {
    throw new TransformFailedError(`transform: headers: at most ${MAX_STATIC_HEADERS} headers`);
  }
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [index, [name, value]] of entries.entries()) {
    if (!isLegalHeaderName(name)) {
      throw new TransformFailedError(
        `transform: header #${index + 1}: the name is not a valid HTTP token of 1 to ${MAX_HEADER_NAME_LENGTH} characters`,
      );
    }
    const shown = shownHeaderName(name, index);
    const nameProblem = checkHeaderName(name);
    if (nameProblem !== undefined) throw new TransformFailedError(`transform: header ${shown} ${nameProblem}`);
    const lower = name.toLowerCase();
    if (seen.has(lower)) throw new TransformFailedError(`transform: header ${shown} is set twice`);
    seen.add(lower);
    if (typeof value !== 'string') throw new TransformFailedError(`transform: header ${shown} must be a string`);
    const valueProblem = checkHeaderValue(value);
    if (valueProblem !== undefined) {
      throw new TransformFailedError(`transform: header ${shown} has an invalid value (${valueProblem})`);
    }
    out[name] = value;
  }
  const totals = checkHeaderTotals(out);
  if (totals !== undefined) throw new TransformFailedError(`transform: headers: ${totals}`);
  return out;
}

/**
 * How a failure names a header a transform set. The name may be computed from the payload, so it is quoted only
 * when it is one of the service's reserved names (a fixed list) or carries a reserved prefix (shown as the
 * prefix); any other header is named by its position in the result, `#1` being the first.
 */
function shownHeaderName(name: string, index: number): string {
  const lower = name.toLowerCase();
  if (RESERVED_HEADER_NAMES.has(lower)) return `"${lower}"`;
  const prefix = RESERVED_HEADER_PREFIXES.find((p) => lower.startsWith(p));
  return prefix !== undefined ? `"${prefix}*"` : `#${index + 1}`;
}

function checkEventType(eventType: unknown): string {
  if (typeof eventType !== 'string' || eventType.length === 0) {
    throw new TransformFailedError('transform: eventType must be a non-empty string');
  }
  if (eventType.length > MAX_TRANSFORMED_EVENT_TYPE_LENGTH) {
    throw new TransformFailedError(
      `transform: eventType is longer than ${MAX_TRANSFORMED_EVENT_TYPE_LENGTH} characters`,
    );
  }
  // It travels in a header and in logs, so it must be header-safe.
  if (!/^[\x21-\x7e]+$/.test(eventType)) {
    throw new TransformFailedError('transform: eventType must be printable ASCII without spaces');
  }
  return eventType;
}

function toTransformFailed(err: unknown, limits: TransformRunLimits, ast: jsonata.ExprNode): TransformFailedError {
  if (err instanceof TransformFailedError) return err;
  if (err instanceof RangeError) return tooLarge(err);
  const e = (typeof err === 'object' && err !== null ? err : {}) as JsonataErrorLike;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const position = typeof e.position === 'number' ? e.position : undefined;
  const at = position === undefined ? '' : ` at position ${position}`;
  if (code === 'D1012') {
    return new TransformFailedError(
      `transform: evaluation exceeded the time limit of ${limits.timeoutMs} ms${at}; check for an infinite loop or recursion`,
      code,
      position,
    );
  }
  if (code === 'D1011') {
    return new TransformFailedError(
      `transform: evaluation nested deeper than ${limits.maxDepth ?? DEFAULT_TRANSFORM_MAX_DEPTH} frames${at}; check for runaway recursion`,
      code,
      position,
    );
  }
  return new TransformFailedError(`transform: ${describeJsonataError(err, { ast })}`, code, position);
}

/** JSONata's codes for `$error(message)` and `$assert(condition, message)`, and where each takes its message. */
const USER_MESSAGE_ARGUMENT: Readonly<
  Record<string, { readonly fn: string; readonly index: number; readonly verb: string }>
> = {
  D3137: { fn: '$error()', index: 0, verb: 'was called' },
  D3141: { fn: '$assert()', index: 1, verb: 'failed' },
};

/**
 * JSONata's message, position and code.
 *
 * At parse time (no `run`) the message is about the expression and is kept whole. At run time (`run` carries the
 * parsed expression) nothing computed from the event may pass, because these messages reach logs, dead letters
 * and Temporal history:
 * - Any value JSONata interpolated into its message (`{{value}}`, `{{value2}}`, `{{exp}}`, always JSON-encoded) is
 *   replaced by `<value>`.
 * - The message of `$error(message)` and `$assert(condition, message)` is the tenant's own text, computed by the
 *   expression from whatever it likes: it is kept only when it is JSONata's default or a string literal written
 *   in that very call; otherwise only the call is named (`$error() was called with a message computed from the
 *   event (not shown)`).
 * - A JavaScript error raised inside a built-in function is named by its class, never its message.
 */
function describeJsonataError(err: unknown, run?: { readonly ast: jsonata.ExprNode }): string {
  if (typeof err !== 'object' || err === null) return 'evaluation failed';
  const e = err as JsonataErrorLike;
  let message = typeof e.message === 'string' && e.message.length > 0 ? e.message : 'evaluation failed';
  const code = typeof e.code === 'string' ? e.code : undefined;
  const position = typeof e.position === 'number' ? e.position : undefined;
  if (run !== undefined) {
    const userMessage = code === undefined ? undefined : USER_MESSAGE_ARGUMENT[code];
    if (err instanceof Error) {
      message = `evaluation failed (${err.name})`;
    } else if (userMessage !== undefined) {
      if (!isWrittenInCall(run.ast, position, userMessage.index, message, code)) {
        message = `${userMessage.fn} ${userMessage.verb} with a message computed from the event (not shown)`;
      }
    } else {
      message = redactValues(message, e);
    }
  }
  const at = position === undefined ? '' : ` at position ${position}`;
  return `${message}${at}${code === undefined ? '' : ` [${code}]`}`;
}

/** `message` with every value JSONata interpolated into it replaced by `<value>`. */
function redactValues(message: string, e: JsonataErrorLike): string {
  let redacted = message;
  for (const value of [e.value, e.value2, e.exp]) {
    if (value === undefined) continue;
    let shown: string | undefined;
    try {
      shown = JSON.stringify(value);
    } catch {
      shown = undefined;
    }
    if (shown !== undefined && shown.length > 0) redacted = redacted.split(shown).join('<value>');
  }
  return redacted;
}

/** JSONata's message when `$error()` or `$assert()` is called without one. */
const DEFAULT_USER_MESSAGES: Readonly<Record<string, string>> = {
  D3137: '$error() function evaluated',
  D3141: '$assert() statement failed',
};

/**
 * Whether the message of a `$error`/`$assert` failure is text the tenant wrote, not a value computed from the
 * event: JSONata's default, or the string literal passed as the message argument of the call at `position`.
 * Anything else (a path, a concatenation, a variable, a `~>` chain) counts as computed.
 */
function isWrittenInCall(
  ast: jsonata.ExprNode,
  position: number | undefined,
  index: number,
  message: string,
  code: string | undefined,
): boolean {
  if (code !== undefined && message === DEFAULT_USER_MESSAGES[code]) return true;
  if (position === undefined) return false;
  let written = false;
  const seen = new Set<unknown>();
  const visit = (node: unknown): void => {
    if (written || typeof node !== 'object' || node === null || seen.has(node) || node instanceof RegExp) return;
    seen.add(node);
    const record = node as Record<string, unknown>;
    if (record['type'] === 'function' && record['position'] === position && Array.isArray(record['arguments'])) {
      const argument = (record['arguments'] as unknown[])[index] as Record<string, unknown> | undefined;
      if (argument?.['type'] === 'string' && argument['value'] === message) written = true;
    }
    for (const child of Object.values(record)) visit(child);
  };
  visit(ast);
  return written;
}
