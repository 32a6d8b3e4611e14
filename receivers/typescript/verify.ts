import { createHmac, timingSafeEqual } from 'node:crypto';

/** Why a request was accepted or rejected. Codes are shared with the Python and Go kits and the test vectors. */
export type WssVerdictReason =
  'ok' | 'bad_signature' | 'bad_timestamp' | 'timestamp_out_of_tolerance' | 'malformed_signature';

export interface WssVerdict {
  readonly valid: boolean;
  readonly reason: WssVerdictReason;
}

export interface VerifyWssOptions {
  /** The endpoint secret exactly as shown when it was created; its UTF-8 bytes are the HMAC key. */
  readonly secret: string;
  /** The `X-WSS-Timestamp` header value. */
  readonly timestampHeader: string | undefined;
  /** The `X-WSS-Signature` header value: one or more comma-separated lowercase hex signatures. */
  readonly signatureHeader: string | undefined;
  /** The raw request body, before any JSON parsing. A string is taken as UTF-8. */
  readonly body: Buffer | Uint8Array | string;
  /** Current Unix time in seconds. Default: the system clock. */
  readonly now?: number;
  /** Allowed clock difference, either way, in seconds. Default: 300. */
  readonly toleranceSeconds?: number;
}

const DIGITS = /^[0-9]+$/;
const LOWER_HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * Verifies an `X-WSS-Signature`. Never throws on bad input; checks run in the order timestamp syntax, tolerance,
 * signature, so the reason names the first thing wrong.
 *
 * Signatures must be exactly 64 lowercase hex digits; anything else (including uppercase hex) is a malformed entry,
 * skipped rather than fatal, so one bad entry cannot hide a good one during a secret rotation.
 */
export function verifyWssSignature(options: VerifyWssOptions): WssVerdict {
  const { secret, timestampHeader, signatureHeader, body } = options;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;

  // Strict: Number() and parseInt() accept spaces, signs, "1e9" or trailing junk, and the timestamp digits are part of
  // the signed bytes, so a lenient parse lets the timestamp/body boundary move.
  if (timestampHeader === undefined || !DIGITS.test(timestampHeader)) return verdict('bad_timestamp');
  // Precision loss above 2^53 is harmless: such values are far outside any sane tolerance.
  if (Math.abs(now - Number(timestampHeader)) > tolerance) return verdict('timestamp_out_of_tolerance');

  const candidates = (signatureHeader ?? '').split(',').map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''));
  const wellFormed = candidates.filter((s) => LOWER_HEX_SHA256.test(s));
  if (wellFormed.length === 0) return verdict('malformed_signature');

  // An empty key is a configuration mistake that anyone could sign with; fail closed rather than accept.
  if (secret.length === 0) return verdict('bad_signature');

  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const expected = Buffer.from(
    createHmac('sha256', Buffer.from(secret, 'utf8')).update(timestampHeader, 'utf8').update(bytes).digest('hex'),
    'ascii',
  );
  // Every candidate is compared so the time taken does not reveal which entry matched.
  let matched = false;
  for (const candidate of wellFormed) {
    if (timingSafeEqual(Buffer.from(candidate, 'ascii'), expected)) matched = true;
  }
  return verdict(matched ? 'ok' : 'bad_signature');
}

function verdict(reason: WssVerdictReason): WssVerdict {
  return { valid: reason === 'ok', reason };
}

/** Raised when a body exceeds the configured limit; the middlewares turn it into a 413. */
export class BodyTooLargeError extends Error {
  readonly statusCode = 413;
  constructor(readonly limitBytes: number) {
    super(`request body exceeds ${limitBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Default cap on the bytes read before verifying, so an unsigned sender cannot make us buffer without bound. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** Reads a request stream into one Buffer, stopping as soon as it passes `limitBytes`. */
export async function readRawBody(stream: AsyncIterable<Uint8Array | string>, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    total += bytes.length;
    if (total > limitBytes) throw new BodyTooLargeError(limitBytes);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

/** A single header value; repeated headers arrive as arrays and are joined the way Node joins unknown headers. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
