import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyResponse, transportReason } from '../../src/domain/classify-response';
import type {
  AttemptObservation,
  ClassificationPolicy,
  DeliveryClassification,
} from '../../src/domain/classify-response';

const HOUR = 3_600_000;
const policy: ClassificationPolicy = { permanentStatusCodes: [400, 401, 503], maximumIntervalMs: HOUR };
const noPermanent: ClassificationPolicy = { maximumIntervalMs: HOUR };

const status = (statusCode: number, retryAfterMs?: number): AttemptObservation =>
  retryAfterMs === undefined ? { kind: 'response', statusCode } : { kind: 'response', statusCode, retryAfterMs };
const transport = (causeCode: string): AttemptObservation => ({ kind: 'transport', causeCode });

type Row = [string, AttemptObservation, ClassificationPolicy, DeliveryClassification];

describe('classifyResponse', () => {
  const cases: Row[] = [
    ['delivers on 200', status(200), policy, { outcome: 'delivered' }],
    ['delivers on 204', status(204), policy, { outcome: 'delivered' }],
    ['delivers on 299', status(299), policy, { outcome: 'delivered' }],
    ['ignores Retry-After on a 2xx', status(202, 5_000), policy, { outcome: 'delivered' }],
    ['reports 410 as gone', status(410), noPermanent, { outcome: 'gone' }],
    [
      'reports 410 as gone even when listed as permanent',
      status(410),
      { ...policy, permanentStatusCodes: [410] },
      { outcome: 'gone' },
    ],
    ['fails permanently on a listed 4xx', status(400), policy, { outcome: 'permanent', reason: 'http_400' }],
    ['fails permanently on another listed 4xx', status(401), policy, { outcome: 'permanent', reason: 'http_401' }],
    [
      'lets a listed 503 be permanent despite Retry-After',
      status(503, 5_000),
      policy,
      { outcome: 'permanent', reason: 'http_503' },
    ],
    ['retries an unlisted 400 on schedule', status(400), noPermanent, { outcome: 'retry', reason: 'http_400' }],
    ['retries a 404 on schedule', status(404), policy, { outcome: 'retry', reason: 'http_404' }],
    ['retries a 413 on schedule', status(413), policy, { outcome: 'retry', reason: 'http_413' }],
    ['retries a 500 on schedule', status(500), policy, { outcome: 'retry', reason: 'http_500' }],
    ['retries a 502 on schedule', status(502), policy, { outcome: 'retry', reason: 'http_502' }],
    [
      'retries a 503 on schedule without Retry-After',
      status(503),
      noPermanent,
      { outcome: 'retry', reason: 'http_503' },
    ],
    [
      'retries a 503 after Retry-After',
      status(503, 30_000),
      noPermanent,
      { outcome: 'retry', reason: 'http_503', retryAfterMs: 30_000 },
    ],
    ['retries a 429 on schedule without Retry-After', status(429), policy, { outcome: 'retry', reason: 'http_429' }],
    [
      'retries a 429 after Retry-After',
      status(429, 120_000),
      policy,
      { outcome: 'retry', reason: 'http_429', retryAfterMs: 120_000 },
    ],
    [
      'raises a 429 Retry-After of 0 to one second',
      status(429, 0),
      policy,
      { outcome: 'retry', reason: 'http_429', retryAfterMs: 1_000 },
    ],
    [
      'lowers a 429 Retry-After to the maximum interval',
      status(429, 5 * HOUR),
      policy,
      { outcome: 'retry', reason: 'http_429', retryAfterMs: HOUR },
    ],
    ['ignores Retry-After on a 500', status(500, 30_000), policy, { outcome: 'retry', reason: 'http_500' }],
    ['ignores Retry-After on a redirect', status(301, 30_000), policy, { outcome: 'retry', reason: 'http_301' }],
    ['retries a 302 instead of following it', status(302), policy, { outcome: 'retry', reason: 'http_302' }],
    ['retries a 307 instead of following it', status(307), policy, { outcome: 'retry', reason: 'http_307' }],
    ['retries a 304', status(304), policy, { outcome: 'retry', reason: 'http_304' }],
    ['retries a 1xx', status(101), policy, { outcome: 'retry', reason: 'http_101' }],
    ['retries a status below 100 as invalid', status(99), policy, { outcome: 'retry', reason: 'invalid_status' }],
    ['retries a status above 599 as invalid', status(600), policy, { outcome: 'retry', reason: 'invalid_status' }],
    ['retries a non-integer status as invalid', status(200.5), policy, { outcome: 'retry', reason: 'invalid_status' }],
    [
      'retries a connect timeout',
      transport('UND_ERR_CONNECT_TIMEOUT'),
      policy,
      { outcome: 'retry', reason: 'timeout' },
    ],
    [
      'retries a headers timeout',
      transport('UND_ERR_HEADERS_TIMEOUT'),
      policy,
      { outcome: 'retry', reason: 'timeout' },
    ],
    ['retries a body timeout', transport('UND_ERR_BODY_TIMEOUT'), policy, { outcome: 'retry', reason: 'timeout' }],
    ['retries an overall deadline', transport('deadline_exceeded'), policy, { outcome: 'retry', reason: 'timeout' }],
    ['retries ETIMEDOUT', transport('ETIMEDOUT'), policy, { outcome: 'retry', reason: 'timeout' }],
    ['retries a closed socket', transport('UND_ERR_SOCKET'), policy, { outcome: 'retry', reason: 'connection_reset' }],
    ['retries ECONNRESET', transport('ECONNRESET'), policy, { outcome: 'retry', reason: 'connection_reset' }],
    ['retries EPIPE', transport('EPIPE'), policy, { outcome: 'retry', reason: 'connection_reset' }],
    ['retries ECONNREFUSED', transport('ECONNREFUSED'), policy, { outcome: 'retry', reason: 'connect_refused' }],
    ['retries ENOTFOUND', transport('ENOTFOUND'), policy, { outcome: 'retry', reason: 'dns_failure' }],
    ['retries EAI_AGAIN', transport('EAI_AGAIN'), policy, { outcome: 'retry', reason: 'dns_failure' }],
    ['retries EHOSTUNREACH', transport('EHOSTUNREACH'), policy, { outcome: 'retry', reason: 'host_unreachable' }],
    ['retries ENETUNREACH', transport('ENETUNREACH'), policy, { outcome: 'retry', reason: 'host_unreachable' }],
    [
      'retries an expired certificate',
      transport('CERT_HAS_EXPIRED'),
      policy,
      { outcome: 'retry', reason: 'tls_error' },
    ],
    [
      'retries a self-signed certificate',
      transport('DEPTH_ZERO_SELF_SIGNED_CERT'),
      policy,
      { outcome: 'retry', reason: 'tls_error' },
    ],
    [
      'retries an unverifiable chain',
      transport('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
      policy,
      { outcome: 'retry', reason: 'tls_error' },
    ],
    [
      'retries a certificate name mismatch',
      transport('ERR_TLS_CERT_ALTNAME_INVALID'),
      policy,
      { outcome: 'retry', reason: 'tls_error' },
    ],
    [
      'retries a client certificate the receiver demanded and did not get',
      transport('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'),
      policy,
      { outcome: 'retry', reason: 'tls_error' },
    ],
    [
      'retries a failed OAuth2 token endpoint',
      transport('OAUTH2_TOKEN_ERROR'),
      policy,
      { outcome: 'retry', reason: 'oauth2_token_error' },
    ],
    [
      'retries an oversized response',
      transport('UND_ERR_RES_EXCEEDED_MAX_SIZE'),
      policy,
      { outcome: 'retry', reason: 'response_too_large' },
    ],
    [
      'retries a content-length mismatch',
      transport('UND_ERR_RES_CONTENT_LENGTH_MISMATCH'),
      policy,
      { outcome: 'retry', reason: 'protocol_error' },
    ],
    [
      'retries an HTTP parser error',
      transport('HPE_INVALID_CONSTANT'),
      policy,
      { outcome: 'retry', reason: 'protocol_error' },
    ],
    ['retries an aborted request', transport('UND_ERR_ABORTED'), policy, { outcome: 'retry', reason: 'aborted' }],
    [
      'retries an unknown cause as a network error',
      transport('ESOMETHINGNEW'),
      policy,
      { outcome: 'retry', reason: 'network_error' },
    ],
    ['retries an empty cause as a network error', transport(''), policy, { outcome: 'retry', reason: 'network_error' }],
    // The HTTP client refused to send the request as built (a header it cannot send): every attempt would too.
    ...(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN'] as const).map(
      (code): Row => [
        `fails permanently on a request the client refuses to send (${code})`,
        transport(code),
        policy,
        { outcome: 'permanent', reason: 'invalid_request' },
      ],
    ),
    [
      'fails permanently on a blocked destination',
      { kind: 'blocked' },
      policy,
      { outcome: 'permanent', reason: 'destination_not_allowed' },
    ],
  ];
  for (const [name, input, rowPolicy, expected] of cases) {
    it(name, () => assert.deepEqual(classifyResponse({ input, policy: rowPolicy }), expected));
  }

  it('never returns retryAfterMs on a retry that should follow the schedule', () => {
    const result = classifyResponse({ input: status(500, 10_000), policy });
    assert.equal('retryAfterMs' in result, false);
  });
});

describe('transportReason', () => {
  it('matches cause codes regardless of letter case and padding', () => {
    assert.equal(transportReason('DEADLINE_EXCEEDED'), 'timeout');
    assert.equal(transportReason(' econnreset '), 'connection_reset');
  });
});
