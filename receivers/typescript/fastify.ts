import { Readable } from 'node:stream';
import { DEFAULT_BODY_LIMIT_BYTES, headerValue, readRawBody, verifyWssSignature } from './verify';

// Structural stand-ins for the Fastify members used, so this file compiles without fastify installed.
/** The part of a Fastify request the hook touches. */
export interface FastifyLikeRequest {
  readonly headers: Record<string, string | string[] | undefined>;
  /** Set by the hook: the exact bytes that were verified. */
  rawBody?: Buffer;
}
/** A Fastify `preParsing` hook: it may swap the payload stream for a new one. */
export type FastifyLikePreParsingHook = (
  request: FastifyLikeRequest,
  reply: unknown,
  payload: AsyncIterable<Uint8Array | string>,
) => Promise<Readable>;
/** The part of a Fastify instance used by {@link registerWssVerification}. */
export interface FastifyLikeInstance {
  addHook(name: 'preParsing', hook: FastifyLikePreParsingHook): unknown;
}

export interface WssFastifyOptions {
  /** The endpoint secret exactly as shown by the sender. */
  readonly secret: string;
  /** Allowed clock difference either way, in seconds. Default: 300. */
  readonly toleranceSeconds?: number;
  /** Largest body read before verifying, in bytes. Default: 1 MiB. */
  readonly limitBytes?: number;
  /** Clock in Unix seconds, for tests. Default: the system clock. */
  readonly now?: () => number;
}

/** Error with the `statusCode` Fastify uses for the response; `reason` is the verdict code. */
export class WssVerificationError extends Error {
  readonly statusCode = 401;
  constructor(readonly reason: string) {
    super(`webhook signature rejected: ${reason}`);
    this.name = 'WssVerificationError';
  }
}

/**
 * A `preParsing` hook that verifies `X-WSS-Signature` over the raw bytes, then hands Fastify's normal content-type
 * parsers a fresh stream of the same bytes. Verifying in `preParsing` (not `preHandler`) is what gives access to the
 * bytes before JSON parsing; `request.rawBody` keeps them for the route.
 *
 * Register it in the encapsulated context of the webhook routes only:
 *
 *   app.register(async (scope) => {
 *     registerWssVerification(scope, { secret: process.env.WSS_SECRET! });
 *     scope.post('/webhooks', async (request) => { ... request.body is the parsed JSON ... });
 *   });
 *
 * Rejections throw {@link WssVerificationError} (401) or BodyTooLargeError (413), which Fastify's default error
 * handler turns into responses.
 *
 * @throws Error at setup time if the secret is empty.
 */
export function registerWssVerification(fastify: FastifyLikeInstance, options: WssFastifyOptions): void {
  fastify.addHook('preParsing', createWssPreParsingHook(options));
}

/** The hook itself, for route-level `preParsing` options or tests. */
export function createWssPreParsingHook(options: WssFastifyOptions): FastifyLikePreParsingHook {
  if (options.secret.length === 0) throw new Error('createWssPreParsingHook: secret must not be empty');
  const limitBytes = options.limitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  return async (request, _reply, payload) => {
    const body = await readRawBody(payload, limitBytes);
    const verdict = verifyWssSignature({
      secret: options.secret,
      timestampHeader: headerValue(request.headers['x-wss-timestamp']),
      signatureHeader: headerValue(request.headers['x-wss-signature']),
      body,
      ...(options.now ? { now: options.now() } : {}),
      ...(options.toleranceSeconds !== undefined ? { toleranceSeconds: options.toleranceSeconds } : {}),
    });
    if (!verdict.valid) throw new WssVerificationError(verdict.reason);
    request.rawBody = body;
    // Fastify checks bodyLimit against this property of a replaced payload stream.
    return Object.assign(Readable.from([body], { objectMode: false }), { receivedEncodedLength: body.length });
  };
}
