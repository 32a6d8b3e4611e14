import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  generateSigningKeyPair,
  jwkThumbprint,
  publicJwk,
  signV1a,
  standardWebhooksPublicKey,
} from '../../src/security/ed25519';
import { buildSignatureHeaders, SigningError } from '../../src/security/signature';
import { V1A_VECTORS_PATH, renderV1aVectors } from '../vectors/generate-v1a';
import type { V1aVector } from '../vectors/generate-v1a';

const committed = readFileSync(V1A_VECTORS_PATH, 'utf8');
const vectors = (JSON.parse(committed) as { vectors: V1aVector[] }).vectors;
const WHSEC = 'whsec_' + Buffer.alloc(32, 7).toString('base64');

/** Node's ed25519 verifier over `{id}.{timestamp}.{body}`: no code of ours. */
function nodeVerifies(x: string, id: string, ts: string, body: Buffer, entry: string): boolean {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
  return verify(null, Buffer.concat([Buffer.from(`${id}.${ts}.`), body]), key, Buffer.from(entry.slice(4), 'base64'));
}

describe('v1a (ed25519) signing', () => {
  it('the committed v1a vectors are exactly what the generator produces', () => {
    assert.equal(committed, renderV1aVectors(), 'run: node --import tsx test/vectors/generate-v1a.ts');
  });

  it('every "ok" vector has an entry that Node crypto.verify accepts with a key of its JWKS', () => {
    const ok = vectors.filter((v) => v.expected.valid);
    assert.ok(ok.length >= 8);
    for (const v of ok) {
      const body = Buffer.from(v.bodyBase64, 'base64');
      const entries = v.signatureHeader.split(' ').filter((e) => e.startsWith('v1a,'));
      const verified = entries.some((e) =>
        v.jwks.keys.some((k) => nodeVerifies(k.x!, v.id, v.timestampHeader, body, e)),
      );
      assert.ok(verified, v.name);
    }
  });

  it('generates a key whose kid is its RFC 7638 thumbprint and whose signatures Node verifies', () => {
    const pair = generateSigningKeyPair();
    assert.equal(pair.kid, jwkThumbprint(pair.x));
    assert.match(pair.kid, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(pair.x, 'base64url').length, 32);
    assert.match(standardWebhooksPublicKey(pair.x), /^whpk_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(publicJwk(pair.kid, pair.x), {
      kty: 'OKP',
      crv: 'Ed25519',
      x: pair.x,
      kid: pair.kid,
      use: 'sig',
      alg: 'EdDSA',
    });
    const entry = signV1a(pair, 'msg_1', '1700000000', Buffer.from('{"a":1}'));
    assert.match(entry, /^v1a,[A-Za-z0-9+/]{86}==$/);
    assert.equal(nodeVerifies(pair.x, 'msg_1', '1700000000', Buffer.from('{"a":1}'), entry), true);
    assert.equal(nodeVerifies(pair.x, 'msg_1', '1700000001', Buffer.from('{"a":1}'), entry), false);
  });

  it('a private key that cannot be read fails without quoting it', () => {
    const bad = { kid: 'k1', privateKey: Buffer.from('not a key at all').toString('base64') };
    assert.throws(
      () => signV1a(bad, 'm', '1', Buffer.alloc(0)),
      (err: Error) => /signing key k1/.test(err.message) && !err.message.includes(bad.privateKey),
    );
  });
});

describe('buildSignatureHeaders with signature versions', () => {
  const keyA = generateSigningKeyPair();
  const keyB = generateSigningKeyPair();
  const base = { eventId: 'evt_1', timestamp: 1_700_000_000, body: '{"x":1}' };

  it('v1 alone is the HMAC header set, as before', () => {
    const headers = buildSignatureHeaders({ ...base, scheme: 'wss', secrets: ['s'.repeat(24)], versions: ['v1'] });
    assert.deepEqual(Object.keys(headers), ['X-WSS-Timestamp', 'X-WSS-Signature']);
  });

  it('v1 with standard-webhooks and v1a share one webhook-signature header, v1 first', () => {
    const headers = buildSignatureHeaders({
      ...base,
      scheme: 'standard-webhooks',
      secrets: [WHSEC],
      versions: ['v1a', 'v1'],
      signingKeys: [keyB, keyA],
    });
    const entries = headers['webhook-signature']!.split(' ');
    assert.equal(entries.length, 3);
    assert.match(entries[0]!, /^v1,/);
    assert.equal(headers['webhook-signature-kid'], `${keyB.kid} ${keyA.kid}`);
    assert.equal(nodeVerifies(keyB.x, 'evt_1', '1700000000', Buffer.from(base.body), entries[1]!), true);
    assert.equal(nodeVerifies(keyA.x, 'evt_1', '1700000000', Buffer.from(base.body), entries[2]!), true);
  });

  it('wss with v1a adds the Standard Webhooks headers carrying only v1a', () => {
    const headers = buildSignatureHeaders({
      ...base,
      scheme: 'wss',
      secrets: ['s'.repeat(24)],
      versions: ['v1', 'v1a'],
      signingKeys: [keyA],
    });
    assert.deepEqual(Object.keys(headers).sort(), [
      'X-WSS-Signature',
      'X-WSS-Timestamp',
      'webhook-id',
      'webhook-signature',
      'webhook-signature-kid',
      'webhook-timestamp',
    ]);
    assert.match(headers['webhook-signature']!, /^v1a,[^ ]+$/);
  });

  it('v1a alone needs no secret and sends no HMAC', () => {
    const headers = buildSignatureHeaders({
      ...base,
      scheme: 'wss',
      secrets: [],
      versions: ['v1a'],
      signingKeys: [keyA],
    });
    assert.equal(headers['X-WSS-Signature'], undefined);
    assert.match(headers['webhook-signature']!, /^v1a,/);
  });

  it('refuses v1a without keys, and an empty version list', () => {
    assert.throws(
      () => buildSignatureHeaders({ ...base, scheme: 'wss', secrets: ['s'.repeat(24)], versions: ['v1a'] }),
      SigningError,
    );
    assert.throws(
      () => buildSignatureHeaders({ ...base, scheme: 'wss', secrets: ['s'.repeat(24)], versions: [] }),
      SigningError,
    );
  });
});
