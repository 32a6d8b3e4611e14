/**
 * Regenerates test/vectors/v1a.json, the Standard Webhooks `v1a` (ed25519) vectors every receiver kit runs:
 *
 *   node --import tsx test/vectors/generate-v1a.ts
 *
 * Deterministic: the keys come from fixed seeds and ed25519 signatures are deterministic, so a diff in the committed
 * file means the wire format changed. test/unit/v1a-signature.test.ts checks the committed file matches this
 * generator. The signatures are made by the sender's own signV1a.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AsymmetricSigningKey, Ed25519PublicJwk } from '../../src/security/ed25519';
import { jwkThumbprint, publicJwk, signV1a } from '../../src/security/ed25519';

export type V1aVerdictReason =
  | 'ok'
  | 'bad_signature'
  | 'bad_timestamp'
  | 'timestamp_out_of_tolerance'
  | 'malformed_signature'
  | 'unknown_key';

export interface V1aVector {
  readonly name: string;
  readonly note?: string;
  /** The JWKS the receiver holds. */
  readonly jwks: { readonly keys: readonly Record<string, string>[] };
  /** `webhook-id`. */
  readonly id: string;
  /** `webhook-timestamp`, exactly as sent. */
  readonly timestampHeader: string;
  /** `webhook-signature`, exactly as sent. */
  readonly signatureHeader: string;
  /** `webhook-signature-kid`, or null when the request has none. */
  readonly kidHeader: string | null;
  readonly bodyBase64: string;
  readonly now: number;
  readonly toleranceSeconds: number;
  readonly expected: { readonly valid: boolean; readonly reason: V1aVerdictReason };
}

export const V1A_VECTORS_PATH = join(__dirname, 'v1a.json');

const NOW = 1_700_000_000;
const TOLERANCE = 300;
const MSG_ID = 'evt_01HV3Z8K2M';
const JSON_BODY = '{"id":"evt_01HV3Z8K2M","type":"invoice.paid","occurredAt":"2023-11-14T22:13:20Z","data":{"amount":4200}}';
// PKCS#8 DER of an ed25519 key is this fixed prefix followed by the 32-byte seed (RFC 8410).
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

interface TestKey {
  readonly signing: AsymmetricSigningKey;
  readonly jwk: Ed25519PublicJwk;
}

/** A key pair from a fixed seed: the same on every run. */
function testKey(label: string): TestKey {
  const seed = createHash('sha256').update(`wss v1a test vector key ${label}`).digest();
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, seed]);
  const x = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' }).x!;
  const kid = jwkThumbprint(x);
  return { signing: { kid, privateKey: der.toString('base64') }, jwk: publicJwk(kid, x) };
}

interface Case {
  readonly name: string;
  readonly note?: string;
  readonly keys: readonly TestKey[];
  readonly id?: string;
  readonly timestampHeader?: string;
  readonly signatureHeader: string;
  readonly kidHeader: string | null;
  readonly body?: Buffer;
  readonly extraJwks?: readonly Record<string, string>[];
  readonly reason: V1aVerdictReason;
}

/** Builds the vector file content. Pure: same output on every run. */
export function buildV1aVectors() {
  const a = testKey('A');
  const b = testKey('B');
  const c = testKey('C (not published)');
  const json = Buffer.from(JSON_BODY, 'utf8');
  const sign = (key: TestKey, body = json, id = MSG_ID, ts = String(NOW)): string => signV1a(key.signing, id, ts, body);
  const sigA = sign(a);
  const sigB = sign(b);
  const nonUtf8 = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0a]);
  const empty = Buffer.alloc(0);
  const hmacEntry = 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=';

  const cases: Case[] = [
    { name: 'valid, kid given', keys: [a], signatureHeader: sigA, kidHeader: a.signing.kid, reason: 'ok' },
    {
      name: 'valid, no kid header',
      note: 'without webhook-signature-kid every Ed25519 key of the JWKS is tried',
      keys: [b, a],
      signatureHeader: sigA,
      kidHeader: null,
      reason: 'ok',
    },
    {
      name: 'kid not in the JWKS',
      note: 'a receiver with a cached JWKS refetches it on this verdict (at most once per minimum interval)',
      keys: [a],
      signatureHeader: sign(b),
      kidHeader: b.signing.kid,
      reason: 'unknown_key',
    },
    {
      name: 'signed with an unpublished key, no kid header',
      keys: [a],
      signatureHeader: sign(c),
      kidHeader: null,
      reason: 'bad_signature',
    },
    {
      name: 'signed with an unpublished key, kid of a published one',
      note: 'the kid only picks the key; the signature must still verify with it',
      keys: [a],
      signatureHeader: sign(c),
      kidHeader: a.signing.kid,
      reason: 'bad_signature',
    },
    {
      name: 'tampered body',
      keys: [a],
      body: Buffer.from(JSON_BODY.replace('4200', '9200'), 'utf8'),
      signatureHeader: sigA,
      kidHeader: a.signing.kid,
      reason: 'bad_signature',
    },
    {
      name: 'webhook-id changed after signing',
      note: 'the id is signed: a replay under another id does not verify',
      keys: [a],
      id: 'evt_other',
      signatureHeader: sigA,
      kidHeader: a.signing.kid,
      reason: 'bad_signature',
    },
    {
      name: 'timestamp changed after signing',
      keys: [a],
      timestampHeader: String(NOW + 1),
      signatureHeader: sigA,
      kidHeader: a.signing.kid,
      reason: 'bad_signature',
    },
    {
      name: 'timestamp with plus sign',
      keys: [a],
      timestampHeader: `+${NOW}`,
      signatureHeader: sign(a, json, MSG_ID, `+${NOW}`),
      kidHeader: a.signing.kid,
      reason: 'bad_timestamp',
    },
    {
      name: 'timestamp beyond tolerance',
      keys: [a],
      timestampHeader: String(NOW - TOLERANCE - 1),
      signatureHeader: sign(a, json, MSG_ID, String(NOW - TOLERANCE - 1)),
      kidHeader: a.signing.kid,
      reason: 'timestamp_out_of_tolerance',
    },
    {
      name: 'timestamp exactly at tolerance',
      keys: [a],
      timestampHeader: String(NOW + TOLERANCE),
      signatureHeader: sign(a, json, MSG_ID, String(NOW + TOLERANCE)),
      kidHeader: a.signing.kid,
      reason: 'ok',
    },
    {
      name: 'only a v1 (HMAC) entry',
      note: 'v1 entries are for HMAC verifiers; a v1a verifier finds nothing to check',
      keys: [a],
      signatureHeader: hmacEntry,
      kidHeader: null,
      reason: 'malformed_signature',
    },
    {
      name: 'v1 and v1a side by side',
      note: 'the kid list counts v1a entries only',
      keys: [a],
      signatureHeader: `${hmacEntry} ${sigA}`,
      kidHeader: a.signing.kid,
      reason: 'ok',
    },
    {
      name: 'v1a entry truncated',
      keys: [a],
      signatureHeader: sigA.slice(0, -4),
      kidHeader: a.signing.kid,
      reason: 'malformed_signature',
    },
    {
      name: 'v1a entry in base64url',
      note: 'signatures are standard base64 with padding; other alphabets are malformed',
      keys: [a],
      signatureHeader: `v1a,${Buffer.from(sigA.slice(4), 'base64').toString('base64url')}`,
      kidHeader: a.signing.kid,
      reason: 'malformed_signature',
    },
    {
      name: 'well-formed but zero signature',
      keys: [a],
      signatureHeader: `v1a,${Buffer.alloc(64).toString('base64')}`,
      kidHeader: a.signing.kid,
      reason: 'bad_signature',
    },
    {
      name: 'empty signature header',
      keys: [a],
      signatureHeader: '',
      kidHeader: null,
      reason: 'malformed_signature',
    },
    {
      name: 'rotation: receiver holds only the old key',
      note: 'new key first; each kid belongs to the v1a entry at the same position',
      keys: [a],
      signatureHeader: `${sigB} ${sigA}`,
      kidHeader: `${b.signing.kid} ${a.signing.kid}`,
      reason: 'ok',
    },
    {
      name: 'rotation: receiver holds only the new key',
      keys: [b],
      signatureHeader: `${sigB} ${sigA}`,
      kidHeader: `${b.signing.kid} ${a.signing.kid}`,
      reason: 'ok',
    },
    {
      name: 'rotation: receiver holds both keys',
      keys: [b, a],
      signatureHeader: `${sigB} ${sigA}`,
      kidHeader: `${b.signing.kid} ${a.signing.kid}`,
      reason: 'ok',
    },
    {
      name: 'rotation: the known key has a wrong signature',
      keys: [a],
      signatureHeader: `${sigB} v1a,${Buffer.alloc(64, 1).toString('base64')}`,
      kidHeader: `${b.signing.kid} ${a.signing.kid}`,
      reason: 'bad_signature',
    },
    { name: 'empty JWKS', keys: [], signatureHeader: sigA, kidHeader: a.signing.kid, reason: 'unknown_key' },
    {
      name: 'JWKS key of another type under the same kid',
      note: 'only kty OKP, crv Ed25519 keys are used; others are ignored',
      keys: [],
      extraJwks: [{ kty: 'OKP', crv: 'X25519', x: a.jwk.x, kid: a.signing.kid }],
      signatureHeader: sigA,
      kidHeader: a.signing.kid,
      reason: 'unknown_key',
    },
    {
      name: 'non-UTF-8 body',
      note: 'the body is signed as raw bytes',
      keys: [a],
      body: nonUtf8,
      signatureHeader: sign(a, nonUtf8),
      kidHeader: a.signing.kid,
      reason: 'ok',
    },
    {
      name: 'empty body',
      keys: [a],
      body: empty,
      signatureHeader: sign(a, empty),
      kidHeader: a.signing.kid,
      reason: 'ok',
    },
  ];

  return {
    scheme: 'v1a',
    description:
      'Standard Webhooks v1a (ed25519) vectors. Generated by test/vectors/generate-v1a.ts; do not edit by hand. A ' +
      'receiver holding `jwks`, at clock `now`, allowing `toleranceSeconds` either way, given webhook-id (`id`), ' +
      'webhook-timestamp, webhook-signature, webhook-signature-kid (null: absent) and the body bytes, must return ' +
      '`expected`. Check order: timestamp syntax, tolerance, signature entries (none well formed: ' +
      'malformed_signature), keys (no usable key for any entry: unknown_key), signatures.',
    vectors: cases.map(
      (c): V1aVector => ({
        name: c.name,
        ...(c.note !== undefined ? { note: c.note } : {}),
        jwks: { keys: [...c.keys.map((k) => ({ ...k.jwk })), ...(c.extraJwks ?? [])] },
        id: c.id ?? MSG_ID,
        timestampHeader: c.timestampHeader ?? String(NOW),
        signatureHeader: c.signatureHeader,
        kidHeader: c.kidHeader,
        bodyBase64: (c.body ?? json).toString('base64'),
        now: NOW,
        toleranceSeconds: TOLERANCE,
        expected: { valid: c.reason === 'ok', reason: c.reason },
      }),
    ),
  };
}

/** The exact file content, so the unit test can compare byte for byte. */
export function renderV1aVectors(): string {
  return `${JSON.stringify(buildV1aVectors(), null, 2)}\n`;
}

if (require.main === module) {
  writeFileSync(V1A_VECTORS_PATH, renderV1aVectors());
  console.log(`wrote ${buildV1aVectors().vectors.length} vectors to ${V1A_VECTORS_PATH}`);
}
