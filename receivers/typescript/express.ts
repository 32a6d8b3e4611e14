import { DEFAULT_BODY_LIMIT_BYTES, BodyTooLargeError, headerValue, readRawBody, verifyWssSignature } from './verify';
import type { WssVerdict } from './verify';

// Structural stand-ins for the few Express members used, so this file compiles without express installed.
/** The part of an Express request the middleware touches (an http.IncomingMessage satisfies it). */
export interface ExpressLikeRequest extends AsyncIterable<Uint8Array | string> {
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  readonly readableEnded?: boolean;
  /** Set by the middleware when the signature verifies. */
  wssVerdict?: WssVerdict;
}
/** The part of an Express response the middleware touches. */
export interface ExpressLikeResponse {
  status(code: number): ExpressLikeResponse;
  json(body: unknown): unknown;
}
export type ExpressLikeNext = (err?: unknown) => void;

export interface WssExpressOptions {
  /** The endpoint secret exactly as shown by the sender. */
  readonly secret: string;
  /** Allowed clock difference either way, in seconds. Default: 300. */
  readonly toleranceSeconds?: number;
  /** Largest body read before verifying, in bytes. Default: 1 MiB. */
  readonly limitBytes?: number;
  /** Clock in Unix seconds, for tests. Default: the system clock. */
  readonly now?: () => number;
}

/**
 * Express middleware that verifies `X-WSS-Signature` against the raw body. Mount it before any body parser (or
 * after `express.raw()`): on success `req.body` is the raw Buffer, ready for `JSON.parse`; on failure it answers
 * 401 `{ error: 'invalid_signature', reason }` and the route never runs.
 *
 * @throws Error at setup time if the secret is empty.
 */
export function wssExpressMiddleware(options: WssExpressOptions) {
  if (options.secret.length === 0) throw new Error('wssExpressMiddleware: secret must not be empty');
  const limitBytes = options.limitBytes ?? DEFAULT_BODY_LIMIT_BYTES;

  return async (req: ExpressLikeRequest, res: ExpressLikeResponse, next: ExpressLikeNext): Promise<void> => {
    try {
      let body: Buffer;
      if (Buffer.isBuffer(req.body)) {
        body = req.body;
      } else if (req.readableEnded) {
        // A JSON/urlencoded parser already consumed the stream; its re-serialised output would not match.
        throw new Error('wssExpressMiddleware must run before body parsers other than express.raw()');
      } else {
        body = await readRawBody(req, limitBytes);
      }
      const verdict = verifyWssSignature({
        secret: options.secret,
        timestampHeader: headerValue(req.headers['x-wss-timestamp']),
        signatureHeader: headerValue(req.headers['x-wss-signature']),
        body,
        ...(options.now ? { now: options.now() } : {}),
        ...(options.toleranceSeconds !== undefined ? { toleranceSeconds: options.toleranceSeconds } : {}),
      });
      if (!verdict.valid) {
        res.status(401).json({ error: 'invalid_signature', reason: verdict.reason });
        return;
      }
      req.body = body;
      req.wssVerdict = verdict;
      next();
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        res.status(413).json({ error: 'body_too_large' });
        return;
      }
      next(err);
    }
  };
}

/*
Usage:

  import express from 'express';
  import { wssExpressMiddleware } from './express';

  const app = express();
  app.post('/webhooks', wssExpressMiddleware({ secret: process.env.WSS_SECRET! }), (req, res) => {
    const event = JSON.parse((req.body as Buffer).toString('utf8'));
    // X-WSS-Event-Id style headers or event.id: deduplicate, since retries resend the same event.
    res.sendStatus(204);
  });
*/
