import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities/deliver-webhook';
import type { DeliveryAttemptResult, DeliveryDependencies } from '../../src/activities/deliver-webhook';
import { createTransformRunner } from '../../src/activities/transform-runner';
import { DRY_RUN_V1A_SIGNATURE, dryRunDelivery } from '../../src/api/dry-run';
import type { DryRunResult } from '../../src/api/dry-run';
import { RequestBuilder } from '../../src/delivery/signed-request';
import type { Endpoint } from '../../src/domain/endpoint';
import type { EventRef } from '../../src/domain/event';
import { parseEndpointId, parseEventId, parseTenantId } from '../../src/domain/ids';
import { DEFAULT_RETRY_POLICY } from '../../src/domain/retry-policy';
import { DestinationPolicy } from '../../src/infra/egress/destination-policy';
import { createHttpClient } from '../../src/infra/http-client';
import type { HttpClient } from '../../src/infra/http-client';
import { createLogger } from '../../src/infra/logger';
import { generateSigningKeyPair } from '../../src/security/ed25519';
import type { AsymmetricSigningKey } from '../../src/security/ed25519';
import { TransformPool } from '../../src/transform/transform-pool';
import type { ReceivedRequest } from '../support/receiver';
import { receiverPool } from '../support/receiver';

/**
 * A dry run shows byte for byte what a delivery sends: the real delivery activity (MockActivityEnvironment, the
 * real HTTP client, a loopback receiver that keeps the raw header block) against the API's dry run of the same
 * event, endpoint and secrets, both signing at the same injected clock reading. Everything is compared: body
 * bytes, every header name and value in the order sent, signatures included. Only what the HTTP client adds for
 * the connection (`host`, `content-length`, `connection`) is the client's and not the request's.
 */

const receivers = receiverPool();
const clients: HttpClient[] = [];
const pool = new TransformPool();
after(async () => {
  await receivers.closeAll();
  await Promise.all(clients.map((c) => c.close()));
  await pool.close();
});

/** The one moment both sign at: a delivery and a dry run differ only in when they are signed. */
const SIGNED_AT_MS = Date.parse('2026-03-01T10:20:30.456Z');
const TRANSPORT_HEADERS = ['connection', 'content-length', 'host'];

const WSS_SECRETS = ['wss_new_' + 'a'.repeat(40), 'wss_old_' + 'b'.repeat(40)];
const WHSEC_SECRETS = [
  'whsec_' + Buffer.alloc(32, 1).toString('base64'),
  'whsec_' + Buffer.alloc(32, 2).toString('base64'),
];

const EVENT: EventRef = {
  tenantId: parseTenantId('acme'),
  eventId: parseEventId('evt_dry_1'),
  eventType: 'order.created',
  occurredAt: '2026-03-01T10:20:00.000Z',
};
/** Spellings a parse and re-serialise would change, so a body rebuilt anywhere would show. */
const DATA_JSON = '{"total": 250.0, "big": 12345678901234567890, "name": "caf\\u00e9", "tags": [ ]}';

interface Case {
  readonly name: string;
  readonly endpoint: Partial<Endpoint>;
  readonly secrets: readonly string[];
  /** The tenant's ed25519 keys, for endpoints that sign with v1a. */
  readonly signingKeys?: readonly AsymmetricSigningKey[];
  /** Signature header names the scheme sends, as sent. */
  readonly signatureHeaders: readonly string[];
}

const CASES: Case[] = [
  {
    name: 'the wss scheme, during a secret rotation',
    endpoint: { signatureScheme: 'wss', headers: { 'X-Team': 'payments' } },
    secrets: WSS_SECRETS,
    signatureHeaders: ['x-wss-timestamp', 'x-wss-signature'],
  },
  {
    name: 'the standard-webhooks scheme, during a secret rotation',
    endpoint: { signatureScheme: 'standard-webhooks' },
    secrets: WHSEC_SECRETS,
    signatureHeaders: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
  },
  {
    name: 'both schemes',
    endpoint: { signatureScheme: 'both', headers: { Authorization: 'Bearer receiver-token' } },
    secrets: WHSEC_SECRETS.slice(0, 1),
    signatureHeaders: ['x-wss-timestamp', 'x-wss-signature', 'webhook-id', 'webhook-timestamp', 'webhook-signature'],
  },
  {
    name: 'v1 and v1a (ed25519) during a signing-key rotation',
    endpoint: { signatureScheme: 'standard-webhooks', signatureVersions: ['v1', 'v1a'] },
    secrets: WHSEC_SECRETS.slice(0, 1),
    signingKeys: [generateSigningKeyPair(), generateSigningKeyPair()],
    signatureHeaders: ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'webhook-signature-kid'],
  },
  {
    name: 'an endpoint with a filter and a transform that sets the body, a header and the event type',
    endpoint: {
      signatureScheme: 'both',
      headers: { 'X-Team': 'payments' },
      filter: { 'data.total': { $gt: 10 } },
      transform:
        '{"body": {"amount": data.total, "big": data.big, "who": data.name}, "headers": {"X-Shop": tenant}, "eventType": "order.paid"}',
    },
    secrets: WHSEC_SECRETS.slice(0, 1),
    signatureHeaders: ['x-wss-timestamp', 'x-wss-signature', 'webhook-id', 'webhook-timestamp', 'webhook-signature'],
  },
];

function endpointFor(url: string, overrides: Partial<Endpoint>): Endpoint {
  return {
    id: parseEndpointId('ep_dry'),
    tenantId: EVENT.tenantId,
    url,
    eventTypes: ['order.*'],
    enabled: true,
    signatureScheme: 'wss',
    sendTraceparent: false,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

function quietLogger() {
  return createLogger('fatal', {}, new Writable({ write: (_c, _e, done) => done() }));
}

/** One real delivery attempt of EVENT to `endpoint`, signed at {@link SIGNED_AT_MS}. */
async function deliver(
  endpoint: Endpoint,
  secrets: readonly string[],
  requests: RequestBuilder,
  signingKeys: readonly AsymmetricSigningKey[] = [],
): Promise<DeliveryAttemptResult> {
  const http = createHttpClient({
    connectTimeoutMs: 2000,
    headersTimeoutMs: 5000,
    totalTimeoutMs: 10_000,
    maxResponseBytes: 64 * 1024,
    policy: new DestinationPolicy({ allowCidrs: ['127.0.0.0/8'], httpsOnly: false }),
  });
  clients.push(http);
  const deps: DeliveryDependencies = {
    endpoints: {
      getForDelivery: async () => ({ endpoint, signingSecrets: () => [...secrets] }),
      setEnabled: async () => undefined,
    },
    payloads: { get: async () => DATA_JSON },
    signingKeys: { activeSigningKeys: async () => [...signingKeys] },
    requests,
    http,
    deliveryLog: {
      recordAttempt: async () => undefined,
      recordFailedDelivery: async (_letter, { nowMs }) => ({ recorded: true, streak: { count: 1, sinceMs: nowMs } }),
      removeDeadLetter: async () => undefined,
      resetEndpointFailures: async () => undefined,
    },
    operationalEvents: { publish: async () => undefined },
    health: { disableAfterFailures: 0, disableAfterMs: 0 },
    log: quietLogger(),
    now: () => SIGNED_AT_MS,
  };
  const { deliverWebhook } = createActivities(deps);
  const env = new MockActivityEnvironment({ attempt: 1, scheduledTimestampMs: SIGNED_AT_MS });
  return env.run(deliverWebhook, { event: EVENT, endpointId: endpoint.id, retryPolicy: DEFAULT_RETRY_POLICY });
}

/** The dry run of the same event, as the API runs it: the data as the producer's text. */
function dryRun(
  endpoint: Endpoint,
  secrets: readonly string[],
  requests: RequestBuilder,
  signingKeys: readonly AsymmetricSigningKey[] = [],
): Promise<DryRunResult> {
  return dryRunDelivery(
    endpoint,
    {
      id: EVENT.eventId,
      type: EVENT.eventType,
      tenant: EVENT.tenantId,
      occurredAt: EVENT.occurredAt,
      dataJson: DATA_JSON,
    },
    {
      requests,
      loadSecrets: async () => [...secrets],
      loadSigningKeys: async () => [...signingKeys],
      now: () => SIGNED_AT_MS,
    },
  );
}

/** `[name, value]` pairs of the raw header block, in the order received. */
function headerPairs(req: ReceivedRequest): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  return pairs;
}

describe('dry run equals delivery, byte for byte, at the same clock reading', () => {
  for (const c of CASES) {
    it(`shows the body and every header a delivery sends, for ${c.name}`, async () => {
      const hook = await receivers.start();
      const endpoint = endpointFor(hook.url, c.endpoint);
      const requests = new RequestBuilder({
        payloads: { get: async () => DATA_JSON },
        transform: createTransformRunner(pool),
      });

      assert.equal((await deliver(endpoint, c.secrets, requests, c.signingKeys)).outcome, 'delivered');
      const dry = await dryRun(endpoint, c.secrets, requests, c.signingKeys);

      assert.equal(hook.requests.length, 1);
      const received = hook.requests[0]!;
      assert.equal(dry.matches, true, JSON.stringify(dry));
      if (!dry.matches) return;
      assert.ok(
        received.body.equals(Buffer.from(dry.body, 'utf8')),
        `body differs:\n delivered ${received.body.toString('utf8')}\n dry run   ${dry.body}`,
      );
      // The one difference allowed: each v1a signature is a placeholder in the dry run (it must not hand out
      // signatures of the tenant's key over bodies the caller chose); its place in the header is the same.
      const pairs = headerPairs(received).map(([name, value]): [string, string] => [
        name,
        name.toLowerCase() === 'webhook-signature'
          ? value
              .split(' ')
              .map((entry) => (entry.startsWith('v1a,') ? DRY_RUN_V1A_SIGNATURE : entry))
              .join(' ')
          : value,
      ]);
      assert.deepEqual(
        pairs.filter(([name]) => !TRANSPORT_HEADERS.includes(name.toLowerCase())),
        Object.entries(dry.headers),
        'headers differ (names, values or order)',
      );
      assert.deepEqual(
        pairs
          .map(([name]) => name.toLowerCase())
          .filter((name) => TRANSPORT_HEADERS.includes(name))
          .sort(),
        TRANSPORT_HEADERS,
        'the HTTP client added more than the connection headers',
      );
      // Not vacuous: the scheme's signature headers are there, and so is the event type sent.
      for (const name of c.signatureHeaders)
        assert.ok(name in dry.headers, `no ${name} in ${Object.keys(dry.headers)}`);
      assert.equal(dry.headers['x-wss-event-type'], dry.eventType);
    });
  }
});

describe('dry run routes as a delivery attempt does', () => {
  const routing: [description: string, overrides: Partial<Endpoint>, skipped: string, reason: string][] = [
    ['a disabled endpoint', { enabled: false }, 'endpoint_disabled', 'endpoint_disabled'],
    ['an event type the endpoint does not take', { eventTypes: ['user.*'] }, 'unsubscribed', 'event_type'],
    ['a filter the data fails', { filter: { 'data.total': { $lt: 10 } } }, 'unsubscribed', 'filter'],
    // Filters are checked at registration; one stored before the filter language changed matches nothing.
    ['a stored filter that no longer compiles', { filter: { $where: 'true' } }, 'unsubscribed', 'filter'],
  ];
  for (const [description, overrides, skipped, reason] of routing) {
    it(`sends nothing for ${description}, and the dry run says why`, async () => {
      const hook = await receivers.start();
      const endpoint = endpointFor(hook.url, overrides);
      const requests = new RequestBuilder({ payloads: { get: async () => DATA_JSON } });

      const attempt = await deliver(endpoint, WSS_SECRETS, requests);
      const dry = await dryRun(endpoint, WSS_SECRETS, requests);

      assert.deepEqual([attempt.outcome, attempt.reason], ['skipped', skipped]);
      assert.deepEqual(dry, { matches: false, reason });
      assert.equal(hook.requests.length, 0);
    });
  }
});
