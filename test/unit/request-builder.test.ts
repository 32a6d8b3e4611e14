import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestBuilder } from '../../src/delivery/signed-request';
import { dryRunDelivery } from '../../src/api/dry-run';
import type { Endpoint } from '../../src/domain/endpoint';
import type { EventRef } from '../../src/domain/event';
import type { EventId } from '../../src/domain/ids';
import { parseEndpointId, parseTenantId } from '../../src/domain/ids';
import { verifyWssRequest } from '../support/independent-verifier';

/**
 * Issue 11, item 1: the data a producer published reaches the receiver byte for byte in the default envelope.
 * Every spelling below means something to someone (or is at least valid JSON text), and a parse + stringify
 * round trip changes each one.
 */
const spellings: [description: string, dataJson: string][] = [
  ['an integer above 2^53 (the issue)', '{"orderId":12345678901234567890}'],
  ['2^53 + 1', '{"n":9007199254740993}'],
  ['a negative big integer', '{"n":-98765432109876543210}'],
  ['negative zero', '{"n":-0}'],
  ['a number over the double range', '{"n":1e400}'],
  ['a number under the double range', '{"n":1e-400}'],
  ['a trailing zero', '{"n":1.0}'],
  ['an exponent in capitals', '{"n":1E5}'],
  ['a fraction with an exponent', '{"n":0.1e-2}'],
  ['more digits than a double holds', '{"n":0.10000000000000000001}'],
  ['escaped non-ASCII', '{"name":"caf\\u00e9"}'],
  ['an escaped solidus and a lone surrogate escape', '{"s":"a\\/b","lone":"\\ud800"}'],
  ['whitespace and newlines', ' {\n  "a" : [ 1 , 2 ] ,\t"b" : { }\n} '],
  ['key order', '{"z":1,"a":2,"m":3}'],
  ['duplicate keys', '{"a":1,"a":2}'],
  ['a __proto__ key', '{"__proto__":{"admin":true}}'],
  ['a bare scalar', '12345678901234567890'],
  ['a string with U+2028', '"line\u2028separator"'],
];

const endpoint: Endpoint = {
  id: parseEndpointId('ep_1'),
  tenantId: parseTenantId('acme'),
  url: 'https://receiver.example/hook',
  eventTypes: ['*'],
  enabled: true,
  signatureScheme: 'wss',
  sendTraceparent: false,
  headers: {},
  createdAt: '2024-05-01T00:00:00.000Z',
  updatedAt: '2024-05-01T00:00:00.000Z',
};

const ref: EventRef = {
  tenantId: parseTenantId('acme'),
  // Not a valid event id, on purpose: whatever id reaches the builder, the envelope must escape it.
  eventId: 'evt "1"' as EventId,
  eventType: 'num.big',
  occurredAt: '2024-05-01T12:00:00.000Z',
};

function envelopeText(dataJson: string): string {
  return `{"id":"evt \\"1\\"","type":"num.big","occurredAt":"2024-05-01T12:00:00.000Z","data":${dataJson}}`;
}

describe('request builder: the default envelope carries the stored data text byte for byte', () => {
  for (const [description, dataJson] of spellings) {
    it(`keeps ${description}`, async () => {
      const builder = new RequestBuilder({ payloads: { get: async () => dataJson } });
      const built = await builder.build(ref, endpoint);
      assert.equal(built.body, envelopeText(dataJson));
      assert.ok(built.body.includes(dataJson));
    });
  }

  it('is valid JSON whose fields are the envelope and the data', async () => {
    const builder = new RequestBuilder({ payloads: { get: async () => '{"a":[1,{"b":null}]}' } });
    const parsed = JSON.parse((await builder.build(ref, endpoint)).body);
    assert.deepEqual(parsed, {
      id: 'evt "1"',
      type: 'num.big',
      occurredAt: '2024-05-01T12:00:00.000Z',
      data: { a: [1, { b: null }] },
    });
  });

  for (const stored of ['1}, "id": "forged"', '{"a":1} {"b":2}', '', 'card=4111111111111111&exp=12']) {
    it(`refuses to splice stored text that is not one JSON value (${JSON.stringify(stored.slice(0, 12))})`, async () => {
      const builder = new RequestBuilder({ payloads: { get: async () => stored } });
      await assert.rejects(builder.build(ref, endpoint), (err: Error & { code?: string; permanent?: boolean }) => {
        assert.equal(err.code, 'payload_invalid');
        assert.equal(err.permanent, true);
        assert.ok(!err.message.includes('4111'), 'the message quotes the payload');
        return true;
      });
    });
  }

  it('hands a transform the data text, not a parsed value', async () => {
    let seen: unknown;
    const builder = new RequestBuilder({
      payloads: { get: async () => '{"orderId":12345678901234567890}' },
      transform: async (_endpoint, event) => {
        seen = event;
        return { body: '{}', headers: {} };
      },
    });
    await builder.build(ref, { ...endpoint, transform: '$' } as Endpoint);
    assert.deepEqual(seen, {
      id: ref.eventId,
      type: ref.eventType,
      tenant: ref.tenantId,
      occurredAt: ref.occurredAt,
      dataJson: '{"orderId":12345678901234567890}',
    });
  });
});

describe('dry run: shows byte for byte what a delivery of the same data text sends', () => {
  const secret = 'whsec_dry_run_test_secret_0123456789';
  for (const [description, dataJson] of spellings) {
    it(`keeps ${description}`, async () => {
      const builder = new RequestBuilder({ payloads: { get: async () => dataJson } });
      const delivered = await builder.build(ref, endpoint);
      const dry = await dryRunDelivery(
        endpoint,
        { id: ref.eventId, type: ref.eventType, tenant: ref.tenantId, occurredAt: ref.occurredAt, dataJson },
        { requests: builder, loadSecrets: async () => [secret], now: () => Date.parse('2024-05-01T12:00:01Z') },
      );
      assert.equal(dry.matches, true);
      if (!dry.matches) return;
      assert.equal(dry.body, delivered.body);
      const at = Date.parse('2024-05-01T12:00:01Z') / 1000;
      assert.equal(
        verifyWssRequest(secret, dry.headers, Buffer.from(dry.body), at).ok,
        true,
        'signed over those bytes',
      );
    });
  }

  it('still filters on the parsed data', async () => {
    const builder = new RequestBuilder({ payloads: { get: async () => undefined } });
    const filtered = { ...endpoint, filter: { 'data.total': { $gt: 10 } } } as Endpoint;
    const event = { id: 'e', type: 't', tenant: 'acme', occurredAt: ref.occurredAt };
    const deps = { requests: builder, loadSecrets: async () => [secret] };
    assert.deepEqual(await dryRunDelivery(filtered, { ...event, dataJson: '{"total":1}' }, deps), {
      matches: false,
      reason: 'filter',
    });
    const match = await dryRunDelivery(filtered, { ...event, dataJson: '{"total": 11.0}' }, deps);
    assert.equal(match.matches && match.body.endsWith('"data":{"total": 11.0}}'), true);
  });

  it('accepts a parsed envelope from older callers', async () => {
    const builder = new RequestBuilder({ payloads: { get: async () => undefined } });
    const dry = await dryRunDelivery(
      endpoint,
      { id: 'e', type: 't', tenant: 'acme', occurredAt: ref.occurredAt, data: { a: 1 } },
      { requests: builder, loadSecrets: async () => [secret] },
    );
    assert.equal(
      dry.matches && dry.body,
      '{"id":"e","type":"t","occurredAt":"2024-05-01T12:00:00.000Z","data":{"a":1}}',
    );
  });
});

/**
 * Issue 11, item 11: an endpoint stored before the registration checks existed (or written to Redis by hand) may
 * hold static headers the rules refuse. The one build path checks them with the same domain rule, so a delivery
 * and a dry run fail the same way, permanently, and nothing is sent: `Content-Length` would break the framing,
 * `Host`, `Connection` and `x-wss-signature` would be sent as stored.
 */
describe('request builder: stored static headers follow the registration rule', () => {
  const secret = 'whsec_dry_run_test_secret_0123456789';
  const stored: [description: string, headers: Record<string, string>, named: string][] = [
    ['Content-Length', { 'Content-Length': '5' }, 'Content-Length'],
    ['Host', { Host: 'evil.example' }, 'Host'],
    ['Connection', { Connection: 'close' }, 'Connection'],
    ['a forged signature', { 'x-wss-signature': 'forged' }, 'x-wss-signature'],
    ['a forged Standard Webhooks id', { 'Webhook-Id': 'msg_forged' }, 'Webhook-Id'],
    ['Expect', { 'X-Ok': '1', Expect: '100-continue' }, 'Expect'],
    ['Transfer-Encoding', { 'transfer-encoding': 'chunked' }, 'transfer-encoding'],
    ['Content-Type', { 'Content-Type': 'text/plain' }, 'Content-Type'],
    ['a C1 control in a value', { 'X-A': 'a\u0085b' }, 'X-A'],
    ['a CR LF in a value', { 'X-A': 'a\r\nX-Injected: 1' }, 'X-A'],
    ['an HTTP/2 pseudo-header', { ':authority': 'evil.example' }, ':authority'],
    ['the same name twice', { 'X-Team': 'a', 'x-team': 'b' }, 'x-team'],
  ];
  const isInvalidRequest = (named: string) => (err: Error & { code?: string; permanent?: boolean }) => {
    assert.equal(err.code, 'invalid_request', err.message);
    assert.equal(err.permanent, true);
    assert.ok(err.message.includes(`"${named}"`), err.message);
    return true;
  };
  for (const [description, headers, named] of stored) {
    it(`fails a delivery and a dry run with ${description}, naming the header`, async () => {
      const builder = new RequestBuilder({ payloads: { get: async () => '{"a":1}' } });
      const legacy = { ...endpoint, headers } as Endpoint;
      await assert.rejects(builder.build(ref, legacy), isInvalidRequest(named));
      await assert.rejects(
        dryRunDelivery(
          legacy,
          { id: 'e', type: 't', tenant: 'acme', occurredAt: ref.occurredAt, dataJson: '{"a":1}' },
          { requests: builder, loadSecrets: async () => [secret] },
        ),
        isInvalidRequest(named),
      );
    });
  }

  it('never quotes a stored value in the message', async () => {
    const builder = new RequestBuilder({ payloads: { get: async () => '{}' } });
    const legacy = { ...endpoint, headers: { 'Proxy-Authorization': 'Basic c2VjcmV0OnNlY3JldA==' } } as Endpoint;
    await assert.rejects(builder.build(ref, legacy), (err: Error) => {
      assert.ok(!err.message.includes('c2VjcmV0'), err.message);
      return true;
    });
  });

  it("holds the static and the transform's headers together to the size limit", async () => {
    const half = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`X-S${i}`, 's'.repeat(2000)]));
    const other = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`X-T${i}`, 't'.repeat(2000)]));
    const builder = new RequestBuilder({
      payloads: { get: async () => '{}' },
      transform: async () => ({ body: '{}', headers: other }),
    });
    const both = { ...endpoint, headers: half, transform: '$' } as Endpoint;
    await assert.rejects(builder.build(ref, both), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'invalid_request');
      assert.match(err.message, /more than 8192 bytes/);
      return true;
    });
    // Each alone is within the limit; a transform that replaces a static header counts once.
    const replacing = new RequestBuilder({
      payloads: { get: async () => '{}' },
      transform: async () => ({ body: '{}', headers: { 'x-s0': 'replaced' } }),
    });
    const built = await replacing.build(ref, both);
    assert.equal(built.headers['x-s0'], 'replaced');
  });

  it('keeps building an endpoint whose stored headers are all allowed', async () => {
    const builder = new RequestBuilder({ payloads: { get: async () => '{}' } });
    const ok = { ...endpoint, headers: { Authorization: 'Bearer t', 'X-Latin1': 'café' } } as Endpoint;
    const built = await builder.build(ref, ok);
    assert.equal(built.headers['authorization'], 'Bearer t');
    assert.equal(built.headers['x-latin1'], 'café');
  });
});
