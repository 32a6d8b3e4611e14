import type { z } from 'zod';
import { ValidationError } from '../domain/errors';
import { jsonNestingDepth } from '../domain/json-text';

/**
 * Deepest nesting accepted in a request body (the publish route bounds its `data` by WSS_MAX_EVENT_DEPTH
 * instead). Checked on the text before anything recurses over the parsed value; the deepest legitimate body, an
 * endpoint with a filter at its own limit of 16 levels, is far below it.
 */
export const MAX_REQUEST_BODY_DEPTH = 64;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes a body as UTF-8, refusing invalid bytes rather than replacing them with U+FFFD (which would silently
 * change what the caller sent). A byte-order mark is kept, so JSON parsing refuses it as before.
 */
export function decodeBody(raw: Buffer): string {
  try {
    return strictUtf8.decode(raw);
  } catch {
    throw new ValidationError('request body is not valid UTF-8');
  }
}

/**
 * `JSON.parse` with an error that says where, never what: V8's message quotes the text, and a body may hold
 * anything. `JSON.parse` itself does not recurse, so it is safe on text of any depth.
 */
export function parseJsonText(text: string, reviver?: (key: string, value: unknown) => unknown): unknown {
  if (text.trim().length === 0) throw new ValidationError('request body must be a JSON object');
  try {
    return JSON.parse(text, reviver);
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    const position = /at position (\d+)/.exec((err as Error).message)?.[1];
    const where =
      position !== undefined
        ? ` (at character ${position})`
        : /end of JSON/.test((err as Error).message)
          ? ' (it ends early)'
          : '';
    throw new ValidationError(`request body is not valid JSON${where}`);
  }
}

/**
 * Parses a request body: strict UTF-8, nesting at most `maxDepth` (checked on the text, before anything
 * recurses), strict JSON, and no `__proto__` member anywhere. (A record built from a parsed object by assignment
 * would drop such a member silently, turning `"filter": {"__proto__": ...}` into a filter that matches all.)
 */
export function parseJson(raw: Buffer, maxDepth = MAX_REQUEST_BODY_DEPTH): unknown {
  const text = decodeBody(raw);
  if (jsonNestingDepth(text, maxDepth) > maxDepth) {
    throw new ValidationError(`request body is nested more than ${maxDepth} levels deep`);
  }
  return parseJsonText(text, refuseProtoKey);
}

function refuseProtoKey(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new ValidationError('"__proto__" is not allowed as a field name');
  return value;
}

/**
 * Validates `value` against a schema. The first issue becomes a {@link ValidationError} whose message names the
 * field (`eventTypes.0: ...`), and the remaining issues are listed in `details`.
 */
export function validate<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
    return {
      field: path.map(String).join('.') || '(body)',
      message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
    };
  });
  const first = issues[0] ?? { field: '(body)', message: 'invalid' };
  throw new RequestValidationError(`${first.field}: ${first.message}`, first.field, issues);
}

export class RequestValidationError extends ValidationError {
  constructor(
    message: string,
    field: string,
    readonly issues: readonly { field: string; message: string }[],
  ) {
    super(message, field);
  }
}
