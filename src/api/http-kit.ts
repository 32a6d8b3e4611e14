import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { WssError } from '../domain/errors';
import { PayloadTooLargeError, ValidationError } from '../domain/errors';
import { jsonNestingDepth } from '../domain/json-text';

/**
 * Deepest nesting accepted in a request body (the publish route bounds its `data` by WSS_MAX_EVENT_DEPTH
 * instead). Checked on the text before anything recurses over the parsed value; the deepest legitimate body, an
 * endpoint with a filter at its own limit of 16 levels, is far below it.
 */
export const MAX_REQUEST_BODY_DEPTH = 64;

/** Parsed request handed to a route handler. */
export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** Reads and parses the JSON body (at most `maxBodyBytes`, see {@link parseJson}). */
  json(): Promise<unknown>;
  /** Reads the body as text (at most `maxBodyBytes`, strict UTF-8), for routes that need its exact source. */
  text(): Promise<string>;
}

export interface ApiResponse {
  readonly status: number;
  readonly body?: unknown;
  /** Set for non-JSON answers (the /docs page); `body` is then sent as the string it is. */
  readonly contentType?: string;
}

/** Reads a request body up to `limit` bytes; a larger body is refused without being buffered. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new PayloadTooLargeError(`request body is over the ${limit}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new PayloadTooLargeError(`request body is over the ${limit}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

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

export function sendText(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** The API's error body: `{"error": {"code", "message", "field"?, "details"?}}`. */
export function errorBody(err: WssError): { error: Record<string, unknown> } {
  return {
    error: {
      code: err.code,
      message: err.message,
      ...(err instanceof ValidationError && err.field !== undefined ? { field: err.field } : {}),
      ...(err instanceof RequestValidationError && err.issues.length > 1 ? { details: err.issues } : {}),
    },
  };
}

type Handler = (req: ApiRequest) => Promise<ApiResponse>;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly names: readonly string[];
  readonly handler: Handler;
}

/** A small method + path router: `/v1/tenants/:tenantId/endpoints/:endpointId`. */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), names, handler });
    return this;
  }

  /** The handler and params for a request, `'method_not_allowed'` when only the path matches, or undefined. */
  match(
    method: string,
    path: string,
  ): { handler: Handler; params: Record<string, string> } | 'method_not_allowed' | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const found = route.pattern.exec(path);
      if (!found) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        try {
          params[name] = decodeURIComponent(found[i + 1] ?? '');
        } catch {
          throw new ValidationError(`${name}: is not valid percent-encoded UTF-8`, name);
        }
      });
      return { handler: route.handler, params };
    }
    return pathMatched ? 'method_not_allowed' : undefined;
  }

  list(): readonly { method: string; path: string }[] {
    return this.routes.map((r) => ({ method: r.method, path: r.pattern.source }));
  }
}
