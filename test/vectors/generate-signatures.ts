/**
 * Regenerates test/vectors/signatures.json, the "wss" scheme vectors every receiver kit runs:
 *
 *   node --import tsx test/vectors/generate-signatures.ts
 *
 * Output is deterministic (fixed secrets, clock and bodies), so a diff in the committed file means the wire format
 * changed. test/unit/signature.test.ts checks the committed file matches this generator.
 */
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signWss } from '../../src/security/signature';

export type VerdictReason = 'ok' | 'bad_signature' | 'bad_timestamp' | 'timestamp_out_of_tolerance' | 'malformed_signature';

export interface SignatureVector {
  readonly name: string;
  /** Why the vector exists, for whoever reads a failure. */
  readonly note?: string;
  readonly secret: string;
  /** The X-WSS-Timestamp value exactly as sent. */
  readonly timestampHeader: string;
  readonly bodyBase64: string;
  /** The X-WSS-Signature value exactly as sent. */
  readonly signatureHeader: string;
  readonly now: number;
  readonly toleranceSeconds: number;
  readonly expected: { readonly valid: boolean; readonly reason: VerdictReason };
}

export interface SignatureVectorFile {
  readonly scheme: 'wss';
  readonly description: string;
  readonly vectors: readonly SignatureVector[];
}

export const VECTORS_PATH = join(__dirname, 'signatures.json');

const SECRET = 'wss_test-vector-secret-do-not-use';
const OLD_SECRET = 'wss_previous-test-vector-secret';
const OTHER_SECRET = 'wss_someone-elses-secret';
const NOW = 1_700_000_000;
const TOLERANCE = 300;
const JSON_BODY = '{"type":"invoice.paid","id":"evt_01HV3Z","amount":4200}';

// Signs the header text verbatim. Used for malformed timestamps so that a verifier which skips the strict parse and
// trusts a lenient one (parseInt, int(), ParseInt with base 0) would accept: the vector fails for the right reason.
function hmacOverLiteral(secret: string, timestampHeader: string, body: Buffer): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(timestampHeader, 'utf8').update(body).digest('hex');
}

interface Case {
  readonly name: string;
  readonly note?: string;
  readonly secret?: string;
  readonly timestampHeader: string;
  readonly body: Buffer;
  readonly signatureHeader: string;
  readonly now?: number;
  readonly reason: VerdictReason;
}

/** Builds the vector file content. Pure: same output on every run. */
export function buildSignatureVectors(): SignatureVectorFile {
  const json = Buffer.from(JSON_BODY, 'utf8');
  const sign = (ts: number, body: Buffer, secret = SECRET): string => signWss(secret, ts, body);
  const good = sign(NOW, json);
  const old = sign(NOW, json, OLD_SECRET);
  const atTs = (ts: number, name: string, reason: VerdictReason, note?: string): Case => ({
    name,
    ...(note !== undefined ? { note } : {}),
    timestampHeader: String(ts),
    body: json,
    signatureHeader: sign(ts, json),
    reason,
  });
  const malformedTs = (name: string, header: string, note: string): Case => ({
    name,
    note,
    timestampHeader: header,
    body: json,
    signatureHeader: hmacOverLiteral(SECRET, header, json),
    reason: 'bad_timestamp',
  });
  const nonUtf8 = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0a]);
  const crlf = Buffer.from('{"a":1}\r\n{"b":2}\r\n', 'utf8');
  const empty = Buffer.alloc(0);
  const five = Buffer.from('5', 'utf8');

  const cases: Case[] = [
    { name: 'valid json body', timestampHeader: String(NOW), body: json, signatureHeader: good, reason: 'ok' },
    {
      name: 'wrong secret',
      timestampHeader: String(NOW),
      body: json,
      signatureHeader: sign(NOW, json, OTHER_SECRET),
      reason: 'bad_signature',
    },
    {
      name: 'tampered body',
      note: 'signed over the original body; one byte changed (4200 -> 9200)',
      timestampHeader: String(NOW),
      body: Buffer.from(JSON_BODY.replace('4200', '9200'), 'utf8'),
      signatureHeader: good,
      reason: 'bad_signature',
    },
    {
      name: 'timestamp header changed after signing',
      note: 'a replay with a fresh timestamp must not verify',
      timestampHeader: String(NOW + 1),
      body: json,
      signatureHeader: good,
      reason: 'bad_signature',
    },
    {
      name: 'non-UTF-8 body',
      note: 'the body is signed as raw bytes; decoding it as text first would break this',
      timestampHeader: String(NOW),
      body: nonUtf8,
      signatureHeader: sign(NOW, nonUtf8),
      reason: 'ok',
    },
    { name: 'empty body', timestampHeader: String(NOW), body: empty, signatureHeader: sign(NOW, empty), reason: 'ok' },
    {
      name: 'CRLF body',
      note: 'line endings must not be normalised before verifying',
      timestampHeader: String(NOW),
      body: crlf,
      signatureHeader: sign(NOW, crlf),
      reason: 'ok',
    },
    atTs(NOW - TOLERANCE, 'timestamp exactly tolerance in the past', 'ok'),
    atTs(NOW + TOLERANCE, 'timestamp exactly tolerance in the future', 'ok'),
    atTs(NOW - TOLERANCE - 1, 'timestamp one second beyond tolerance in the past', 'timestamp_out_of_tolerance'),
    atTs(NOW + TOLERANCE + 1, 'timestamp one second beyond tolerance in the future', 'timestamp_out_of_tolerance'),
    atTs(
      Number('9'.repeat(15)),
      'timestamp far in the future',
      'timestamp_out_of_tolerance',
      'syntactically valid, so it is a tolerance failure, not a parse failure',
    ),
    {
      name: 'timestamp too large for 64 bits',
      note: 'digits only, so out of tolerance; verifiers must not throw or wrap on overflow',
      timestampHeader: '9'.repeat(25),
      body: json,
      signatureHeader: hmacOverLiteral(SECRET, '9'.repeat(25), json),
      reason: 'timestamp_out_of_tolerance',
    },
    malformedTs('timestamp with leading space', ` ${NOW}`, 'Number()/int() trim whitespace'),
    malformedTs('timestamp with plus sign', `+${NOW}`, 'Number()/int()/strconv.ParseInt accept a sign'),
    malformedTs('timestamp with underscores', '1_700_000_000', 'int() and ParseInt(s, 0, 64) accept underscores'),
    malformedTs('timestamp with trailing letters', `${NOW}abc`, 'parseInt() stops at the first non-digit'),
    malformedTs('timestamp in full-width digits', '１７００００００００', 'int() and \\d without re.ASCII accept them'),
    malformedTs('timestamp with trailing newline', `${NOW}\n`, "Python's $ also matches before a final newline"),
    malformedTs('empty timestamp', '', 'missing or empty header'),
    {
      name: 'uppercase hex signature',
      note: 'signatures are compared as exact lowercase hex strings',
      timestampHeader: String(NOW),
      body: json,
      signatureHeader: good.toUpperCase(),
      reason: 'malformed_signature',
    },
    {
      name: 'signature one hex digit short',
      timestampHeader: String(NOW),
      body: json,
      signatureHeader: good.slice(0, 63),
      reason: 'malformed_signature',
    },
    {
      name: 'signature with extra hex digits',
      timestampHeader: String(NOW),
      body: json,
      signatureHeader: `${good}00`,
      reason: 'malformed_signature',
    },
    {
      name: 'signature with non-hex characters',
      timestampHeader: String(NOW),
      body: json,
      signatureHeader: `${good.slice(0, 62)}zz`,
      reason: 'malformed_signature',
    },
    { name: 'empty signature header', timestampHeader: String(NOW), body: json, signatureHeader: '', reason: 'malformed_signature' },
    {
      name: 'rotation: valid signature first',
      note: 'receiver holds the new secret; header is <new>,<old>',
      timestampHeader: String(NOW),
      body: json,
      signatureHeader: `${good},${old}`,
      reason: 'ok',
    },
    {
      name: 'rotation: valid signature second',
      note: 'receiver still holds the old secret; header is <new>,<old>',
      secret: OLD_SECRET,
      timestampHeader: String(NOW),
      body: json,
      signatureHeader: `${good},${old}`,
      reason: 'ok',
    },
    {
      name: 'rotation: space after comma',
      note: 'HTTP stacks join repeated headers with ", "; optional spaces and tabs around entries are ignored',
      secret: OLD_SECRET,
      timestampHeader: String(NOW),
      body: json,
      signatureHeader: `${good}, ${old}`,
      reason: 'ok',
    },
    {
      name: 'rotation: neither signature matches',
      timestampHeader: String(NOW),
      body: json,
      signatureHeader: `${sign(NOW, json, OTHER_SECRET)},${old}`,
      reason: 'bad_signature',
    },
    {
      name: 'rotation: malformed entry next to a valid one',
      note: 'malformed entries are skipped, not fatal',
      timestampHeader: String(NOW),
      body: json,
      signatureHeader: `${good.toUpperCase()},${good}`,
      reason: 'ok',
    },
    {
      name: 'rotation: malformed entry next to a wrong one',
      note: 'bad_signature wins once any entry is well formed',
      timestampHeader: String(NOW),
      body: json,
      signatureHeader: `${good.slice(0, 10)},${old}`,
      reason: 'bad_signature',
    },
    {
      name: 'ambiguity pair: ts=1700000000 body="5"',
      note: 'HMAC input "17000000005" is shared with the next vector',
      timestampHeader: String(NOW),
      body: five,
      signatureHeader: sign(NOW, five),
      reason: 'ok',
    },
    {
      name: 'ambiguity pair: ts=17000000005 body=""',
      note: 'same HMAC input and signature as the previous vector; only the tolerance check rejects it',
      timestampHeader: `${NOW}5`,
      body: empty,
      signatureHeader: sign(NOW, five),
      reason: 'timestamp_out_of_tolerance',
    },
  ];

  return {
    scheme: 'wss',
    description:
      'X-WSS-Signature vectors. Generated by test/vectors/generate-signatures.ts; do not edit by hand. ' +
      'A receiver configured with `secret`, at clock `now`, allowing `toleranceSeconds` either way, given the two ' +
      'header values and the body bytes, must return `expected`. Check order: timestamp syntax, tolerance, signature.',
    vectors: cases.map((c) => ({
      name: c.name,
      ...(c.note !== undefined ? { note: c.note } : {}),
      secret: c.secret ?? SECRET,
      timestampHeader: c.timestampHeader,
      bodyBase64: c.body.toString('base64'),
      signatureHeader: c.signatureHeader,
      now: c.now ?? NOW,
      toleranceSeconds: TOLERANCE,
      expected: { valid: c.reason === 'ok', reason: c.reason },
    })),
  };
}

/** The exact file content, so the unit test can compare byte for byte. */
export function renderSignatureVectors(): string {
  return `${JSON.stringify(buildSignatureVectors(), null, 2)}\n`;
}

if (require.main === module) {
  writeFileSync(VECTORS_PATH, renderSignatureVectors());
  console.log(`wrote ${buildSignatureVectors().vectors.length} vectors to ${VECTORS_PATH}`);
}
