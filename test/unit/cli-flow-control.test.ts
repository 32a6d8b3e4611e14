import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { run } from '../../src/cli/main';

// The CLI's flow control options (issue 17) in-process, against a loopback server standing in for the API.

describe('wss CLI: flow control', () => {
  let server: Server;
  let apiUrl: string;
  const seen: { method: string; url: string; body: string }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'ep_1', rateLimit: 50 }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => {
    seen.length = 0;
  });

  async function wss(args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await run(
      args,
      { out: (t) => (stdout += `${t}\n`), err: (t) => (stderr += `${t}\n`) },
      { WSS_API_URL: apiUrl, WSS_TOKEN: 'tok_unit' },
    );
    return { code, stdout, stderr };
  }

  const cases: [string, string[], string, string, unknown][] = [
    [
      'endpoints add sends the limits as numbers',
      [
        'endpoints',
        'add',
        'acme',
        '--url',
        'https://h.example/x',
        '--events',
        'a.b',
        '--rate-limit',
        '2.5',
        '--burst',
        '3',
        '--max-in-flight',
        '4',
        '--no-adaptive-backoff',
      ],
      'POST',
      '/v1/tenants/acme/endpoints',
      {
        url: 'https://h.example/x',
        eventTypes: ['a.b'],
        rateLimit: 2.5,
        rateLimitBurst: 3,
        maxInFlight: 4,
        adaptiveBackoff: false,
      },
    ],
    [
      'endpoints add without them sends none',
      ['endpoints', 'add', 'acme', '--url', 'https://h.example/x', '--events', 'a.b'],
      'POST',
      '/v1/tenants/acme/endpoints',
      { url: 'https://h.example/x', eventTypes: ['a.b'] },
    ],
    [
      'endpoints flow-control changes limits live',
      ['endpoints', 'flow-control', 'acme', 'ep_1', '--rate-limit', '50', '--adaptive-backoff', 'on'],
      'PATCH',
      '/v1/tenants/acme/endpoints/ep_1',
      { rateLimit: 50, adaptiveBackoff: true },
    ],
    [
      'endpoints flow-control none removes a limit',
      ['endpoints', 'flow-control', 'acme', 'ep_1', '--max-in-flight', 'none', '--burst', 'none'],
      'PATCH',
      '/v1/tenants/acme/endpoints/ep_1',
      { maxInFlight: null, rateLimitBurst: null },
    ],
  ];
  for (const [name, args, method, url, body] of cases) {
    it(name, async () => {
      const result = await wss(args);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(
        seen.map((s) => [s.method, s.url, JSON.parse(s.body) as unknown]),
        [[method, url, body]],
      );
    });
  }

  for (const [name, args, message] of [
    [
      'a rate that is not a number',
      ['endpoints', 'flow-control', 'acme', 'ep_1', '--rate-limit', 'fast'],
      /--rate-limit must be a number or none, got fast/,
    ],
    [
      'none on create',
      ['endpoints', 'add', 'acme', '--url', 'https://h.example/x', '--events', 'a.b', '--max-in-flight', 'none'],
      /--max-in-flight must be a number, got none/,
    ],
    [
      'a switch that is not on or off',
      ['endpoints', 'flow-control', 'acme', 'ep_1', '--adaptive-backoff', 'yes'],
      /--adaptive-backoff must be on or off, got yes/,
    ],
  ] as const) {
    it(`refuses ${name} before calling the API`, async () => {
      const result = await wss([...args]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, message);
      assert.equal(seen.length, 0);
    });
  }
});
