import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * A receiver-side verifier written for the tests from the wire-format description alone, deliberately not
 * importing anything from src/, so a bug in the sender's signing cannot hide behind the same bug here.
 */
export function verifyWssRequest(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  rawBody: Buffer,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = 300,
): { ok: true; timestamp: number } | { ok: false; reason: string } {
  const ts = headers['x-wss-timestamp'];
  const sig = headers['x-wss-signature'];
  if (typeof ts !== 'string' || !/^[0-9]+$/.test(ts)) return { ok: false, reason: 'bad timestamp' };
  if (typeof sig !== 'string') return { ok: false, reason: 'no signature' };
  const timestamp = Number(ts);
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return { ok: false, reason: 'timestamp outside window' };
  const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(ts, 'utf8').update(rawBody).digest();
  for (const candidate of sig.split(',')) {
    const got = Buffer.from(candidate.trim(), 'hex');
    if (got.length === expected.length && /^[0-9a-f]{64}$/.test(candidate.trim()) && timingSafeEqual(got, expected)) {
      return { ok: true, timestamp };
    }
  }
  return { ok: false, reason: 'signature mismatch' };
}
