import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signRequest } from '../../src/delivery/signed-request';
import type { SignatureScheme } from '../../src/domain/endpoint';
import { receiverPool } from '../support/receiver';
import type { ReceivedRequest } from '../support/receiver';
import { uniqueName, waitFor } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/**
 * The dry run of the real API against a real delivery (stream, consumer, Temporal, worker) of the same event: the
 * wiring of both entry points (secrets loaded, transform pool, request builder) must give the same request.
 *
 * Two things differ by nature and nothing else may: the moment of signing (the timestamp headers and the
 * signatures over them) and, in the default body, `occurredAt` (the time Redis accepted the event, which a dry run
 * of a sample cannot know). So everything else is compared as received, and the signatures are recomputed from the
 * dry run's body at the delivery's timestamp with the endpoint's secrets: they must equal the delivered ones, and
 * the same recomputation at the dry run's timestamp must equal the dry run's own (so the dry run signed with the
 * same secrets, rotation included). The byte-for-byte comparison at one injected clock reading is
 * test/activities/dry-run-matches-delivery.test.ts.
 */

const TIMESTAMP_HEADERS = ['x-wss-timestamp', 'x-wss-signature', 'webhook-timestamp', 'webhook-signature'];
const TRANSPORT_HEADERS = ['connection', 'content-length', 'host'];

describe('dry run equals delivery end to end', () => {
  let stack: TestStack;
  const receivers = receiverPool();

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await receivers.closeAll();
    await stack.stop();
  });

  const cases: { name: string; scheme: SignatureScheme; rotate: boolean; transform?: string }[] = [
    { name: 'wss, during a secret rotation', scheme: 'wss', rotate: true },
    { name: 'standard-webhooks', scheme: 'standard-webhooks', rotate: false },
    { name: 'both', scheme: 'both', rotate: true },
    {
      name: 'an endpoint with a transform',
      scheme: 'both',
      rotate: false,
      transform:
        '{"body": {"amount": data.total, "big": data.big}, "headers": {"X-Shop": tenant}, "eventType": "order.paid"}',
    },
  ];

  for (const c of cases) {
    it(`shows what the delivery sent, but for the moment of signing, for ${c.name}`, async () => {
      const tenant = uniqueName('dry');
      const hook = await receivers.start();
      const created = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
        url: hook.url,
        eventTypes: ['order.*'],
        signatureScheme: c.scheme,
        headers: { 'X-Team': 'payments' },
        filter: { 'data.total': { $gt: 10 } },
        ...(c.transform !== undefined ? { transform: c.transform } : {}),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const endpointId = created.body.id as string;
      const secrets = [created.body.secret as string];
      if (c.rotate) {
        const rotated = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpointId}/secret/rotate`, {});
        assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
        secrets.unshift(rotated.body.secret as string);
      }
      const eventId = `evt-${c.scheme}-${c.rotate}-${c.transform !== undefined}`;
      const data = { total: 250.5, big: 1234567890123, name: 'café' };

      await stack.xadd('tenant', tenant, 'type', 'order.created', 'id', eventId, 'data', JSON.stringify(data));
      await waitFor('delivery', () => hook.requests.length === 1, 60_000);
      const dry = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpointId}/test`, {
        type: 'order.created',
        id: eventId,
        data,
      });

      assert.equal(dry.status, 200, JSON.stringify(dry.body));
      assert.equal(dry.body.matches, true);
      const delivered = hook.requests[0]!;
      const dryHeaders = dry.body.headers as Record<string, string>;
      const dryBody = dry.body.body as string;

      // The body: the same bytes, once the default envelope's accept time is the delivery's.
      const body = c.transform === undefined ? withOccurredAtOf(dryBody, delivered) : dryBody;
      assert.ok(
        delivered.body.equals(Buffer.from(body, 'utf8')),
        `bodies differ:\n delivered ${delivered.body.toString('utf8')}\n dry run   ${dryBody}`,
      );
      // Every header but the moment of signing: the same names, values and order.
      assert.deepEqual(
        pairs(delivered).filter(([name]) => ![...TRANSPORT_HEADERS, ...TIMESTAMP_HEADERS].includes(name)),
        Object.entries(dryHeaders).filter(([name]) => !TIMESTAMP_HEADERS.includes(name)),
      );
      // The signatures: the dry run's request signed at each side's timestamp gives each side's headers.
      const resign = (requestBody: string, timestamp: number) =>
        signRequest(
          { id: eventId, body: requestBody, eventType: dry.body.eventType, headers: {} },
          { scheme: c.scheme, secrets, timestamp },
        ).headers;
      const deliveredAt = Number(header(delivered, 'x-wss-timestamp') ?? header(delivered, 'webhook-timestamp'));
      const dryAt = Number(dryHeaders['x-wss-timestamp'] ?? dryHeaders['webhook-timestamp']);
      assert.deepEqual(
        timestampHeaders(pairs(delivered)),
        timestampHeaders(Object.entries(resign(body, deliveredAt))),
        'the delivered signatures are not the dry run request signed at the delivery time',
      );
      assert.deepEqual(
        timestampHeaders(Object.entries(dryHeaders)),
        timestampHeaders(Object.entries(resign(dryBody, dryAt))),
        'the dry run did not sign with the endpoint secrets',
      );
      if (c.rotate) assert.match(String(dryHeaders['x-wss-signature'] ?? dryHeaders['webhook-signature']), /[, ]/);
    });
  }
});

/** The raw header block as `[name, value]` pairs, in the order received. */
function pairs(req: ReceivedRequest): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) out.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  return out;
}

function header(req: ReceivedRequest, name: string): string | undefined {
  return pairs(req).find(([n]) => n === name)?.[1];
}

function timestampHeaders(entries: [string, string][]): [string, string][] {
  return entries.filter(([name]) => TIMESTAMP_HEADERS.includes(name));
}

/** The dry run's default body with the delivery's `occurredAt`, which must appear in it exactly once. */
function withOccurredAtOf(dryBody: string, delivered: ReceivedRequest): string {
  const dryAt = (JSON.parse(dryBody) as { occurredAt: string }).occurredAt;
  const deliveredAt = (JSON.parse(delivered.body.toString('utf8')) as { occurredAt: string }).occurredAt;
  const field = `"occurredAt":${JSON.stringify(dryAt)}`;
  assert.equal(dryBody.split(field).length, 2, 'occurredAt is not where the default envelope has it');
  return dryBody.replace(field, `"occurredAt":${JSON.stringify(deliveredAt)}`);
}
