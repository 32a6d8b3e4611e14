import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import {
  buildSignatureHeaders,
  generateStandardWebhooksSecret,
  generateWssSecret,
  isStandardWebhooksSecret,
  signStandardWebhooks,
  SigningError,
  signWss,
  standardWebhooksSignatureHeader,
  wssSignatureHeader,
} from '../../src/security/signature';
import { VECTORS_PATH, renderSignatureVectors } from '../vectors/generate-signatures';
import type { SignatureVectorFile } from '../vectors/generate-signatures';

const committed = readFileSync(VECTORS_PATH, 'utf8');
const vectorFile = JSON.parse(committed) as SignatureVectorFile;

// The library checks timestamps against the real clock, so these tests sign "now" rather than a fixed instant.
const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const WHSEC_A = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const WHSEC_B = 'whsec_' + Buffer.alloc(32, 7).toString('base64');

describe('wss signing against the shared vectors', () => {
  it('the committed vectors file is exactly what the generator produces', () => {
    assert.equal(committed, renderSignatureVectors(), 'run: node --import tsx test/vectors/generate-signatures.ts');
  });

  for (const v of vectorFile.vectors.filter((x) => x.expected.valid)) {
    it(`reproduces the signature of "${v.name}"`, () => {
      const signature = signWss(v.secret, Number(v.timestampHeader), Buffer.from(v.bodyBase64, 'base64'));
      const sent = v.signatureHeader.split(',').map((s) => s.trim());
      assert.ok(sent.includes(signature), `${signature} not in ${v.signatureHeader}`);
    });
  }
});

describe('signWss', () => {
  it('matches an HMAC over the timestamp digits followed by the body bytes', () => {
    const expected = createHmac('sha256', 'k').update('1700000000{"a":1}').digest('hex');
    assert.equal(signWss('k', 1_700_000_000, '{"a":1}'), expected);
  });

  it('signs a string body and its UTF-8 bytes identically', () => {
    const body = 'héllo €';
    assert.equal(signWss('k', 1, body), signWss('k', 1, Buffer.from(body, 'utf8')));
  });

  it('uses a whsec_ secret verbatim, not base64-decoded', () => {
    const expected = createHmac('sha256', Buffer.from(WHSEC_A, 'utf8')).update('1x').digest('hex');
    assert.equal(signWss(WHSEC_A, 1, 'x'), expected);
  });

  it('refuses timestamps that would not render as plain digits', () => {
    for (const ts of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      assert.throws(() => signWss('k', ts, ''), /non-negative integer/);
    }
  });

  it('refuses an empty secret', () => {
    assert.throws(() => signWss('', 1, ''), /must not be empty/);
  });

  it('joins rotation signatures newest first', () => {
    assert.equal(wssSignatureHeader(['new', 'old'], 5, 'b'), `${signWss('new', 5, 'b')},${signWss('old', 5, 'b')}`);
    assert.throws(() => wssSignatureHeader([], 5, 'b'), /at least one/);
  });
});

describe('Standard Webhooks signing', () => {
  it('produces a signature the standardwebhooks package verifies', () => {
    const ts = nowSeconds();
    const body = '{"type":"invoice.paid"}';
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(ts),
      'webhook-signature': signStandardWebhooks(WHSEC_A, 'msg_1', ts, body),
    };
    assert.deepEqual(new Webhook(WHSEC_A).verify(body, headers), { type: 'invoice.paid' });
  });

  it('matches the standardwebhooks package signature byte for byte', () => {
    const ts = 1_700_000_000;
    assert.equal(
      signStandardWebhooks(WHSEC_A, 'msg_x', ts, 'payload'),
      new Webhook(WHSEC_A).sign('msg_x', new Date(ts * 1000), 'payload'),
    );
  });

  it('produces a rotation header that verifies with either secret', () => {
    const ts = nowSeconds();
    const body = '{"n":1}';
    const header = standardWebhooksSignatureHeader([WHSEC_B, WHSEC_A], 'msg_2', ts, body);
    assert.equal(header.split(' ').length, 2);
    const headers = { 'webhook-id': 'msg_2', 'webhook-timestamp': String(ts), 'webhook-signature': header };
    for (const secret of [WHSEC_A, WHSEC_B]) {
      assert.deepEqual(new Webhook(secret).verify(body, headers), { n: 1 });
    }
    assert.throws(() => new Webhook(generateStandardWebhooksSecret()).verify(body, headers), /No matching signature/);
  });

  it('rejects secrets that are not whsec_ base64 of a 24-64 byte key', () => {
    for (const bad of [
      'wss_abc',
      'whsec_',
      'whsec_c2hvcnQ=',
      `whsec_${'A'.repeat(31)}!`,
      'WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    ]) {
      assert.equal(isStandardWebhooksSecret(bad), false, bad);
      assert.throws(() => signStandardWebhooks(bad, 'm', 1, ''), /whsec_/);
    }
    assert.equal(isStandardWebhooksSecret(WHSEC_A), true);
  });
});

describe('secret generation', () => {
  it('generates distinct secrets of the documented shape', () => {
    const wss = generateWssSecret();
    assert.match(wss, /^wss_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(wss, generateWssSecret());
    const whsec = generateStandardWebhooksSecret();
    assert.equal(isStandardWebhooksSecret(whsec), true);
    assert.equal(Buffer.from(whsec.slice('whsec_'.length), 'base64').length, 32);
  });
});

describe('buildSignatureHeaders', () => {
  const base = { eventId: 'evt_1', timestamp: 1_700_000_000, body: '{"a":1}' };

  it('sends only the wss headers for the wss scheme', () => {
    const headers = buildSignatureHeaders({ ...base, scheme: 'wss', secrets: ['new', 'old'] });
    assert.deepEqual(headers, {
      'X-WSS-Timestamp': '1700000000',
      'X-WSS-Signature': wssSignatureHeader(['new', 'old'], base.timestamp, base.body),
    });
  });

  it('sends only the Standard Webhooks headers for that scheme', () => {
    const headers = buildSignatureHeaders({ ...base, scheme: 'standard-webhooks', secrets: [WHSEC_A] });
    assert.deepEqual(headers, {
      'webhook-id': 'evt_1',
      'webhook-timestamp': '1700000000',
      'webhook-signature': signStandardWebhooks(WHSEC_A, 'evt_1', base.timestamp, base.body),
    });
  });

  it('sends both sets for "both", keying wss with the whole whsec_ string', () => {
    const headers = buildSignatureHeaders({ ...base, scheme: 'both', secrets: [WHSEC_B, WHSEC_A] });
    assert.deepEqual(Object.keys(headers).sort(), [
      'X-WSS-Signature',
      'X-WSS-Timestamp',
      'webhook-id',
      'webhook-signature',
      'webhook-timestamp',
    ]);
    assert.equal(
      headers['X-WSS-Signature'],
      `${signWss(WHSEC_B, base.timestamp, base.body)},${signWss(WHSEC_A, base.timestamp, base.body)}`,
    );
    assert.equal(headers['webhook-signature']?.split(' ').length, 2);
  });

  it('throws instead of signing when a Standard Webhooks scheme gets a non-whsec secret', () => {
    for (const scheme of ['standard-webhooks', 'both'] as const) {
      assert.throws(
        () => buildSignatureHeaders({ ...base, scheme, secrets: [WHSEC_A, 'wss_old'] }),
        /secret #1 .* is not one/,
      );
    }
  });

  it('throws with no secrets', () => {
    assert.throws(() => buildSignatureHeaders({ ...base, scheme: 'wss', secrets: [] }), /at least one/);
  });

  it('throws a typed SigningError (internal_error, permanent) for every input it cannot sign', () => {
    const cases: [string, () => unknown][] = [
      ['no secrets', () => buildSignatureHeaders({ ...base, scheme: 'wss', secrets: [] })],
      ['a non-whsec secret', () => buildSignatureHeaders({ ...base, scheme: 'both', secrets: ['wss_old_secret'] })],
      [
        'a fractional timestamp',
        () => buildSignatureHeaders({ ...base, scheme: 'wss', secrets: [WHSEC_A], timestamp: 1.5 }),
      ],
      ['an empty wss secret', () => signWss('', 1, '')],
      ['a bad whsec secret', () => signStandardWebhooks('whsec_!!', 'm', 1, '')],
      ['an unknown scheme', () => buildSignatureHeaders({ ...base, scheme: 'md5' as never, secrets: [WHSEC_A] })],
    ];
    for (const [name, sign] of cases) {
      assert.throws(
        sign,
        (err: unknown) =>
          err instanceof SigningError &&
          err.code === 'internal_error' &&
          err.permanent &&
          !err.message.includes('wss_old_secret'),
        name,
      );
    }
  });
});
