import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { run } from '../../src/cli/main';

// The CLI in-process against a loopback HTTP server standing in for the management API: it records every request
// (method, path, headers, body text exactly as received) and answers with the queued responses.

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Reply {
  status: number;
  body: unknown;
}

describe('wss CLI', () => {
  let server: Server;
  let apiUrl: string;
  let scratch: string;
  const seen: Seen[] = [];
  const replies: Reply[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const reply = replies.shift() ?? { status: 200, body: {} };
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    scratch = mkdtempSync(path.join(tmpdir(), 'wss-cli-unit-'));
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(scratch, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen.length = 0;
    replies.length = 0;
  });

  async function wss(args: string[], env: Record<string, string | undefined> = {}) {
    let stdout = '';
    let stderr = '';
    const code = await run(
      args,
      { out: (t) => (stdout += `${t}\n`), err: (t) => (stderr += `${t}\n`) },
      { WSS_API_URL: apiUrl, WSS_TOKEN: 'tok_unit', ...env },
    );
    return { code, stdout, stderr };
  }

  function file(name: string, text: string): string {
    const full = path.join(scratch, name);
    writeFileSync(full, text);
    return full;
  }

  describe('every command calls its API route', () => {
    // [argv, method, path, request body (undefined: none)]
    const cases: [string[], string, string, unknown][] = [
      [['tenants', 'create', 'acme', '--name', 'Acme'], 'POST', '/v1/tenants', { id: 'acme', name: 'Acme' }],
      [['tenants', 'create', 'acme'], 'POST', '/v1/tenants', { id: 'acme' }],
      [['tenants', 'list'], 'GET', '/v1/tenants', undefined],
      [['tenants', 'delete', 'acme'], 'DELETE', '/v1/tenants/acme', undefined],
      [['keys', 'create', 'acme', '--name', 'ci'], 'POST', '/v1/tenants/acme/api-keys', { name: 'ci' }],
      [['keys', 'create', 'acme'], 'POST', '/v1/tenants/acme/api-keys', {}],
      [
        ['endpoints', 'add', 'acme', '--url', 'https://h.example/x', '--events', 'a.b, c.*,'],
        'POST',
        '/v1/tenants/acme/endpoints',
        { url: 'https://h.example/x', eventTypes: ['a.b', 'c.*'] },
      ],
      [
        [
          'endpoints',
          'add',
          'acme',
          '--url',
          'https://h.example/x',
          '--events',
          'a.b',
          '--secret',
          's3cretvalue',
          '--scheme',
          'both',
          '--filter',
          '{"data.total":{"$gt":10}}',
          '--transform',
          '{"t": data.total}',
          '--description',
          'orders',
        ],
        'POST',
        '/v1/tenants/acme/endpoints',
        {
          url: 'https://h.example/x',
          eventTypes: ['a.b'],
          secret: 's3cretvalue',
          signatureScheme: 'both',
          description: 'orders',
          filter: { 'data.total': { $gt: 10 } },
          transform: '{"t": data.total}',
        },
      ],
      [
        ['endpoints', 'add', 'acme', '--url', 'https://h.example/x', '--events', 'a.b', '--signatures', 'v1, v1a'],
        'POST',
        '/v1/tenants/acme/endpoints',
        { url: 'https://h.example/x', eventTypes: ['a.b'], signatureVersions: ['v1', 'v1a'] },
      ],
      [['signing-keys', 'list', 'acme'], 'GET', '/v1/tenants/acme/signing-keys', undefined],
      [['signing-keys', 'rotate', 'acme'], 'POST', '/v1/tenants/acme/signing-keys/rotate', {}],
      [['signing-keys', 'jwks', 'acme'], 'GET', '/v1/tenants/acme/jwks.json', undefined],
      [
        [
          'endpoints',
          'add',
          'acme',
          '--url',
          'https://h.example/x',
          '--events',
          'a.b',
          '--auth',
          '{"type":"bearer","token":"t0k"}',
        ],
        'POST',
        '/v1/tenants/acme/endpoints',
        { url: 'https://h.example/x', eventTypes: ['a.b'], auth: { type: 'bearer', token: 't0k' } },
      ],
      [
        ['endpoints', 'auth', 'acme', 'ep_1', '--auth', '{"type":"basic","username":"u","password":"p"}'],
        'PATCH',
        '/v1/tenants/acme/endpoints/ep_1',
        { auth: { type: 'basic', username: 'u', password: 'p' } },
      ],
      [['endpoints', 'auth', 'acme', 'ep_1', '--remove'], 'PATCH', '/v1/tenants/acme/endpoints/ep_1', { auth: null }],
      [['endpoints', 'list', 'acme'], 'GET', '/v1/tenants/acme/endpoints', undefined],
      [
        ['endpoints', 'list', 'acme', '--limit', '5', '--cursor', 'c/1'],
        'GET',
        '/v1/tenants/acme/endpoints?limit=5&cursor=c%2F1',
        undefined,
      ],
      [['endpoints', 'get', 'acme', 'ep_1'], 'GET', '/v1/tenants/acme/endpoints/ep_1', undefined],
      [['endpoints', 'delete', 'acme', 'ep_1'], 'DELETE', '/v1/tenants/acme/endpoints/ep_1', undefined],
      [['endpoints', 'enable', 'acme', 'ep_1'], 'POST', '/v1/tenants/acme/endpoints/ep_1/enable', {}],
      [['endpoints', 'disable', 'acme', 'ep_1'], 'POST', '/v1/tenants/acme/endpoints/ep_1/disable', {}],
      [['endpoints', 'rotate', 'acme', 'ep_1'], 'POST', '/v1/tenants/acme/endpoints/ep_1/secret/rotate', {}],
      [
        ['endpoints', 'test', 'acme', 'ep_1', '--type', 'a.b', '--data', '{"x":1}'],
        'POST',
        '/v1/tenants/acme/endpoints/ep_1/test',
        { type: 'a.b', data: { x: 1 } },
      ],
      [
        ['events', 'publish', 'acme', '--type', 'a.b', '--data', '[1,2]', '--id', 'e1'],
        'POST',
        '/v1/tenants/acme/events',
        { type: 'a.b', data: [1, 2], id: 'e1' },
      ],
      [
        ['endpoints', 'send-test', 'acme', 'ep_1', '--type', 'a.b', '--data', '{"n": 1.50}'],
        'POST',
        '/v1/tenants/acme/endpoints/ep_1/send-test',
        { type: 'a.b', data: { n: 1.5 } },
      ],
      [['portal', 'link', 'acme'], 'POST', '/v1/tenants/acme/portal-sessions', {}],
      [['portal', 'link', 'acme', '--ttl', '60'], 'POST', '/v1/tenants/acme/portal-sessions', { ttlSeconds: 60 }],
      [['portal', 'revoke', 'acme'], 'DELETE', '/v1/tenants/acme/portal-sessions', undefined],
      [['deliveries', 'list', 'acme'], 'GET', '/v1/tenants/acme/deliveries', undefined],
      [
        ['deliveries', 'list', 'acme', '--status', 'failed', '--event-type', 'order.created', '--endpoint', 'ep_1'],
        'GET',
        '/v1/tenants/acme/deliveries?status=failed&eventType=order.created&endpointId=ep_1',
        undefined,
      ],
      [
        ['deliveries', 'list', 'acme', '--since', '2026-01-01T00:00:00Z', '--limit', '5', '--cursor', 'v1.a.b'],
        'GET',
        '/v1/tenants/acme/deliveries?since=2026-01-01T00%3A00%3A00Z&limit=5&cursor=v1.a.b',
        undefined,
      ],
      [['deliveries', 'get', 'acme', 'evt_1'], 'GET', '/v1/tenants/acme/deliveries/evt_1', undefined],
      [['deliveries', 'cancel', 'acme', 'evt_1'], 'POST', '/v1/tenants/acme/deliveries/evt_1/cancel', {}],
      [['deliveries', 'retry', 'acme', 'evt_1'], 'POST', '/v1/tenants/acme/deliveries/evt_1/retry', {}],
      [['deliveries', 'failed', 'acme'], 'GET', '/v1/tenants/acme/dead-letters', undefined],
      [
        ['deliveries', 'failed', 'acme', '--endpoint', 'ep 1'],
        'GET',
        '/v1/tenants/acme/dead-letters?endpointId=ep%201',
        undefined,
      ],
      [
        ['deliveries', 'replay', 'acme', 'ep_1', '--since', '2026-01-01T00:00:00Z', '--until', '2026-01-02T00:00:00Z'],
        'POST',
        '/v1/tenants/acme/endpoints/ep_1/replay',
        { since: '2026-01-01T00:00:00Z', until: '2026-01-02T00:00:00Z' },
      ],
    ];
    for (const [argv, method, url, body] of cases) {
      it(`wss ${argv.join(' ')} → ${method} ${url}`, async () => {
        const res = await wss([...argv, '--json']);
        assert.equal(res.code, 0, res.stderr);
        assert.equal(seen.length, 1);
        const req = seen[0]!;
        assert.equal(req.method, method);
        // The query compared as parameters: `ep%201` and `ep+1` are the same value.
        const normal = (u: string) => {
          const parsed = new URL(u, 'http://api');
          return `${parsed.pathname}${parsed.search ? `?${parsed.searchParams}` : ''}`;
        };
        assert.equal(normal(req.url), normal(url));
        assert.equal(req.headers.authorization, 'Bearer tok_unit');
        if (body === undefined) {
          assert.equal(req.body, '');
        } else {
          assert.equal(req.headers['content-type'], 'application/json');
          assert.deepEqual(JSON.parse(req.body), body);
        }
      });
    }

    it('percent-encodes ids in the path', async () => {
      assert.equal((await wss(['endpoints', 'get', 'a/b', 'ep?1#x'])).code, 0);
      assert.equal(seen[0]?.url, '/v1/tenants/a%2Fb/endpoints/ep%3F1%23x');
    });
  });

  describe('--data is sent as the text the user wrote', () => {
    const big = '{"n":12345678901234567890,"price":1.10,"z":{"b":1,"a":2},"e":1e400}';

    it('keeps a big integer, number spelling and key order byte for byte (events publish, inline)', async () => {
      const res = await wss(['events', 'publish', 'acme', '--type', 'order.paid', '--data', big, '--id', 'e1']);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(seen[0]?.body, `{"type":"order.paid","data":${big},"id":"e1"}`);
    });

    it('keeps the text of a --data @file, whitespace included', async () => {
      const text = `{\n  "n": 12345678901234567890,\n  "s": "café"\n}\n`;
      const res = await wss([
        'events',
        'publish',
        'acme',
        '--type',
        'order.paid',
        '--data',
        `@${file('d.json', text)}`,
      ]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(seen[0]?.body, `{"type":"order.paid","data":${text}}`);
      assert.deepEqual(JSON.parse(seen[0]!.body).data.s, 'café');
    });

    it('refuses a --data @file that is not valid UTF-8, for every command that takes data, and sends nothing', async () => {
      const invalid: [string, Buffer][] = [
        ['a Latin-1 byte', Buffer.from('{"a":"caf\xe9"}', 'latin1')],
        [
          'an encoded surrogate',
          Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
        ],
        ['a truncated sequence', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')])],
        ['an overlong encoding', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])],
      ];
      for (const [name, bytes] of invalid) {
        const full = path.join(scratch, 'bad.json');
        writeFileSync(full, bytes);
        for (const argv of [
          ['events', 'publish', 'acme', '--type', 'a.b', '--data', `@${full}`],
          ['endpoints', 'test', 'acme', 'ep_1', '--type', 'a.b', '--data', `@${full}`],
        ]) {
          const res = await wss(argv);
          assert.equal(res.code, 2, `${name}: ${res.stderr}`);
          assert.match(res.stderr, /not valid UTF-8/, name);
        }
      }
      assert.equal(seen.length, 0);
    });

    it('prints a portal link as a whole URL on the API it talked to', async () => {
      replies.push({
        status: 201,
        body: { url: '/portal/#session=wps_abc', token: 'wps_abc', expiresAt: '2026-11-30T15:00:00.000Z' },
      });
      const res = await wss(['portal', 'link', 'acme']);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout.split('\n')[0], `${apiUrl}/portal/#session=wps_abc`);
    });

    it('refuses a --ttl that is not a whole number of seconds, before any request', async () => {
      for (const ttl of ['abc', '1.5', '-5', '', '1e3']) {
        const res = await wss(['portal', 'link', 'acme', '--ttl', ttl]);
        assert.equal(res.code, 2, `${ttl}: ${res.stderr}`);
        assert.match(res.stderr, /--ttl must be a whole number/, ttl);
      }
      assert.equal(seen.length, 0);
    });

    it('refuses inline --data holding U+FFFD, the trace of invalid UTF-8 on the command line', async () => {
      const res = await wss(['events', 'publish', 'acme', '--type', 'a.b', '--data', '{"a":"caf\uFFFD"}']);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /U\+FFFD/);
      // Written as an escape, the same character is accepted and sent as written.
      const escaped = await wss(['events', 'publish', 'acme', '--type', 'a.b', '--data', '{"a":"caf\\ufffd"}']);
      assert.equal(escaped.code, 0, escaped.stderr);
      assert.equal(seen[0]?.body, '{"type":"a.b","data":{"a":"caf\\ufffd"}}');
    });

    it('keeps a big integer in a dry run (endpoints test)', async () => {
      const res = await wss(['endpoints', 'test', 'acme', 'ep_1', '--type', 'a.b', '--data', big, '--json']);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(seen[0]?.body, `{"type":"a.b","data":${big}}`);
    });

    it('escapes the other fields as JSON strings', async () => {
      const type = 'a"b\\c';
      const res = await wss(['events', 'publish', 'acme', '--type', type, '--data', 'null', '--id', 'x"y']);
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(JSON.parse(seen[0]!.body), { type, data: null, id: 'x"y' });
    });

    it('accepts scalar JSON, a negative number included', async () => {
      for (const data of ['-1', '"text"', 'true', '0.5']) {
        seen.length = 0;
        const res = await wss(['events', 'publish', 'acme', '--type', 'a.b', '--data', data]);
        assert.equal(res.code, 0, `${data}: ${res.stderr}`);
        assert.equal(seen[0]?.body, `{"type":"a.b","data":${data}}`);
      }
    });
  });

  describe('human output', () => {
    it('prints the dry run headers and body', async () => {
      replies.push({
        status: 200,
        body: { matches: true, headers: { 'webhook-id': 'evt_1', 'x-wss-signature': 'v1,abc' }, body: '{"a":1}' },
      });
      const res = await wss(['endpoints', 'test', 'acme', 'ep_1', '--type', 'a.b', '--data', '{}']);
      assert.equal(
        res.stdout,
        'matches: yes\nheaders:\n  webhook-id: evt_1\n  x-wss-signature: v1,abc\nbody:\n{"a":1}\n',
      );
      replies.push({ status: 200, body: { matches: false, reason: 'event type not subscribed' } });
      const no = await wss(['endpoints', 'test', 'acme', 'ep_1', '--type', 'a.b', '--data', '{}']);
      assert.equal(no.stdout, 'matches: no (event type not subscribed)\n');
    });

    it('describes a delivery attempt by attempt', async () => {
      replies.push({
        status: 200,
        body: {
          eventId: 'evt_1',
          eventType: 'order.paid',
          status: 'running',
          workflowId: 'wf-1',
          webUiUrl: 'http://ui/wf-1',
          endpoints: [
            {
              endpointId: 'ep_1',
              status: 'retrying',
              attempts: [
                { attempt: 1, at: '2026-01-01T00:00:00Z', statusCode: 503, error: 'http_503' },
                { attempt: 2, at: '2026-01-01T00:00:05Z', statusCode: 200 },
              ],
            },
          ],
        },
      });
      const res = await wss(['deliveries', 'get', 'acme', 'evt_1']);
      assert.equal(
        res.stdout,
        [
          'event evt_1 (order.paid) — running',
          'workflow wf-1  http://ui/wf-1',
          '  endpoint ep_1: retrying, 2 attempt(s)',
          '    #1 2026-01-01T00:00:00Z 503 http_503',
          '    #2 2026-01-01T00:00:05Z 200 ok',
          '',
        ].join('\n'),
      );
    });

    it('prints failed deliveries as a table, and (none) when empty', async () => {
      replies.push({
        status: 200,
        body: { items: [{ eventId: 'evt_1', endpointId: 'ep_1', lastStatusCode: 500, attempts: 8, lastError: 'x' }] },
      });
      const res = await wss(['deliveries', 'failed', 'acme']);
      const lines = res.stdout.trimEnd().split('\n');
      assert.match(lines[0] ?? '', /^EVENTID\s+ENDPOINTID\s+LASTSTATUSCODE\s+ATTEMPTS\s+LASTERROR$/);
      assert.deepEqual(lines[1]?.split(/\s+/), ['evt_1', 'ep_1', '500', '8', 'x']);
      replies.push({ status: 200, body: { items: [] } });
      assert.equal((await wss(['deliveries', 'failed', 'acme'])).stdout, '(none)\n');
    });

    it('prints replay, delete, tenant delete and key results', async () => {
      replies.push({ status: 200, body: { replayed: 3 } });
      assert.equal(
        (await wss(['deliveries', 'replay', 'acme', 'ep_1', '--since', '2026-01-01T00:00:00Z'])).stdout,
        'replayed 3 failed deliveries\n',
      );
      assert.equal((await wss(['endpoints', 'delete', 'acme', 'ep_1'])).stdout, 'deleted\n');
      replies.push({ status: 200, body: { deleted: 'acme', endpoints: 2 } });
      assert.equal((await wss(['tenants', 'delete', 'acme'])).stdout, 'deleted tenant acme (2 endpoints)\n');
      replies.push({ status: 201, body: { id: 'key_1', key: 'wsk_abc' } });
      assert.equal(
        (await wss(['keys', 'create', 'acme'])).stdout,
        'created key key_1\nkey: wsk_abc\n(shown once: store it now)\n',
      );
    });

    it('prints the raw JSON response with --json, before or after the command', async () => {
      for (const argv of [
        ['--json', 'tenants', 'list'],
        ['tenants', '--json', 'list'],
        ['tenants', 'list', '--json'],
      ]) {
        replies.push({ status: 200, body: { items: [{ id: 'acme' }] } });
        const res = await wss(argv);
        assert.equal(res.code, 0, `${argv.join(' ')}: ${res.stderr}`);
        assert.deepEqual(JSON.parse(res.stdout), { items: [{ id: 'acme' }] });
      }
    });
  });

  describe('connection settings', () => {
    it('flags --api and --token override the environment', async () => {
      replies.push({ status: 200, body: { items: [] } });
      const res = await wss(['tenants', 'list', '--api', apiUrl, '--token', 'tok_flag'], {
        WSS_API_URL: 'http://127.0.0.1:9',
      });
      assert.equal(res.code, 0, res.stderr);
      assert.equal(seen[0]?.headers.authorization, 'Bearer tok_flag');
    });

    it('falls back to WSS_ADMIN_TOKEN when WSS_TOKEN is unset', async () => {
      replies.push({ status: 200, body: { items: [] } });
      const res = await wss(['tenants', 'list'], { WSS_TOKEN: undefined, WSS_ADMIN_TOKEN: 'tok_admin_fallback' });
      assert.equal(res.code, 0, res.stderr);
      assert.equal(seen[0]?.headers.authorization, 'Bearer tok_admin_fallback');
    });
  });

  describe('exit codes', () => {
    it('exits 1 with the API error on stderr, human or JSON', async () => {
      const error = { error: { code: 'not_found', message: 'endpoint ep_1 not found' } };
      replies.push({ status: 404, body: error });
      const res = await wss(['endpoints', 'get', 'acme', 'ep_1']);
      assert.deepEqual(res, { code: 1, stdout: '', stderr: 'error 404 not_found: endpoint ep_1 not found\n' });
      replies.push({ status: 404, body: error });
      const json = await wss(['endpoints', 'get', 'acme', 'ep_1', '--json']);
      assert.equal(json.code, 1);
      assert.deepEqual(JSON.parse(json.stderr), error);
    });

    it('exits 1 when the API cannot be reached', async () => {
      const res = await wss(['tenants', 'list'], { WSS_API_URL: 'http://127.0.0.1:9' });
      assert.equal(res.code, 1);
      assert.match(res.stderr, /^wss: cannot reach the API at http:\/\/127\.0\.0\.1:9/);
    });

    // [argv, stderr pattern, env]
    const usage: [string[], RegExp, Record<string, string | undefined>?][] = [
      [['endpoints', 'frobnicate'], /unknown command "endpoints frobnicate"/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['endpoints', 'add', 'acme', '--events', 'a.b'], /missing --url/],
      [['endpoints', 'add', 'acme', '--url', 'http://h.example/'], /missing --events/],
      [['events', 'publish', 'acme', '--data', '{}'], /missing --type/],
      [['endpoints', 'get', 'acme'], /missing <endpointId>/],
      [['tenants', 'create'], /missing <tenantId>/],
      [['tenants', 'create', ''], /missing <tenantId>/],
      [['endpoints', 'get', 'acme', ''], /missing <endpointId>/],
      [['tenants', 'list', 'extra'], /too many arguments/],
      [['endpoints', 'get', 'acme', 'ep_1', 'extra'], /too many arguments/],
      [['events', 'publish', 'acme', '--type', 'a.b', '--data', '{nope'], /--data is not valid JSON/],
      [['events', 'publish', 'acme', '--type', 'a.b', '--data', ''], /--data is not valid JSON/],
      [['endpoints', 'add', 'acme', '--url', 'u', '--events', 'a', '--filter', '{'], /--filter is not valid JSON/],
      [['events', 'publish', 'acme', '--type', 'a.b', '--data', '@/nonexistent/wss.json'], /cannot read --data file/],
      [['tenants', 'list', '--bogus'], /--bogus/],
      [['endpoints', 'add', 'acme', '--events', 'a.b', '--url'], /--url/],
      [['tenants', 'list'], /no token/, { WSS_TOKEN: '' }],
      [['tenants', 'list', '--api', 'not a url'], /--api/],
      [['tenants', 'list'], /WSS_API_URL/, { WSS_API_URL: 'not a url' }],
    ];
    for (const [argv, pattern, env] of usage) {
      it(`exits 2 without calling the API: wss ${argv.join(' ')}`, async () => {
        const res = await wss(argv, env);
        assert.equal(res.code, 2, `stdout: ${res.stdout}\nstderr: ${res.stderr}`);
        assert.match(res.stderr, pattern);
        assert.match(res.stderr, /^wss: /);
        assert.equal(seen.length, 0);
      });
    }

    it('prints the usage and exits 2 with no command, exits 0 with --help', async () => {
      const nothing = await wss([]);
      assert.equal(nothing.code, 2);
      assert.match(nothing.stdout, /^Usage: wss/);
      const help = await wss(['--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^Usage: wss/);
      for (const command of ['tenants create', 'endpoints add', 'events publish', 'deliveries replay']) {
        assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'), `root help lists ${command}`);
      }
    });
  });

  describe('--help for every command', () => {
    // [command, positional arguments, options it must document]
    const commands: [string, string[], string[]][] = [
      ['tenants create', ['tenantId'], ['--name']],
      ['tenants list', [], []],
      ['tenants delete', ['tenantId'], []],
      ['keys create', ['tenantId'], ['--name']],
      [
        'endpoints add',
        ['tenantId'],
        ['--url', '--events', '--secret', '--scheme', '--signatures', '--filter', '--transform', '--description'],
      ],
      ['signing-keys list', ['tenantId'], []],
      ['signing-keys rotate', ['tenantId'], []],
      ['signing-keys jwks', ['tenantId'], []],
      ['endpoints list', ['tenantId'], ['--limit', '--cursor']],
      ['endpoints get', ['tenantId', 'endpointId'], []],
      ['endpoints delete', ['tenantId', 'endpointId'], []],
      ['endpoints enable', ['tenantId', 'endpointId'], []],
      ['endpoints disable', ['tenantId', 'endpointId'], []],
      ['endpoints rotate', ['tenantId', 'endpointId'], []],
      ['endpoints test', ['tenantId', 'endpointId'], ['--type', '--data']],
      ['events publish', ['tenantId'], ['--type', '--data', '--id']],
      [
        'deliveries list',
        ['tenantId'],
        ['--status', '--event-type', '--endpoint', '--since', '--until', '--limit', '--cursor'],
      ],
      ['endpoints send-test', ['tenantId', 'endpointId'], ['--type', '--data']],
      ['portal link', ['tenantId'], ['--ttl']],
      ['portal revoke', ['tenantId'], []],
      ['deliveries get', ['tenantId', 'eventId'], []],
      ['deliveries cancel', ['tenantId', 'eventId'], []],
      ['deliveries retry', ['tenantId', 'eventId'], []],
      ['deliveries failed', ['tenantId'], ['--endpoint']],
      ['deliveries replay', ['tenantId', 'endpointId'], ['--since', '--until']],
    ];
    for (const [command, args, options] of commands) {
      it(`wss ${command} --help`, async () => {
        const res = await wss([...command.split(' '), '--help']);
        assert.equal(res.code, 0, res.stderr);
        const usageLine = res.stdout.split('\n')[0] ?? '';
        assert.match(usageLine, new RegExp(`^Usage: wss ${command} `));
        for (const arg of args) assert.match(usageLine, new RegExp(`<${arg}>`));
        for (const option of [...options, '--api', '--token', '--json']) {
          // Each option on its own line with a description after it.
          assert.match(res.stdout, new RegExp(`^\\s+(-\\w, )?${option}\\b.*\\s{2,}\\S`, 'm'), `${command}: ${option}`);
        }
        assert.equal(seen.length, 0);
      });
    }

    it('group help lists its commands', async () => {
      const res = await wss(['endpoints', '--help']);
      assert.equal(res.code, 0, res.stderr);
      for (const sub of ['add', 'list', 'get', 'delete', 'enable', 'disable', 'rotate', 'test']) {
        assert.match(res.stdout, new RegExp(`^\\s+${sub}\\b`, 'm'));
      }
    });
  });
});
