import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { DeliveryTransportError, DestinationNotAllowedError } from '../../src/domain/errors';
import { DestinationPolicy } from '../../src/infra/egress/destination-policy';
import type { Resolver } from '../../src/infra/egress/destination-policy';
import { createHttpClient } from '../../src/infra/http-client';
import type { HttpClient, HttpClientOptions } from '../../src/infra/http-client';

/** Every name resolves nowhere unless a test says otherwise, so nothing here can reach real DNS. */
const noDns: Resolver = async (hostname) => {
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

interface Listener {
  readonly port: number;
  readonly url: string;
  connections: number;
  requests: number;
  close(): Promise<void>;
}

const listeners: Listener[] = [];
const clients: HttpClient[] = [];

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(listeners.map((l) => l.close()));
});

async function listen(server: net.Server): Promise<Listener> {
  const state = { connections: 0, requests: 0 };
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', () => {
    state.requests += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const listener: Listener = Object.assign(state, {
    port,
    url: `http://127.0.0.1:${port}/hook`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
  listeners.push(listener);
  return listener;
}

function httpReceiver(handler: http.RequestListener): Promise<Listener> {
  return listen(http.createServer(handler));
}

function client(
  overrides: Partial<HttpClientOptions> & { allowCidrs?: string[]; resolver?: Resolver } = {},
): HttpClient {
  const { allowCidrs = ['127.0.0.0/8'], resolver = noDns, ...rest } = overrides;
  const c = createHttpClient({
    connectTimeoutMs: 2000,
    headersTimeoutMs: 2000,
    totalTimeoutMs: 5000,
    maxResponseBytes: 64 * 1024,
    policy: new DestinationPolicy({ allowCidrs, httpsOnly: false }, resolver),
    ...rest,
  });
  clients.push(c);
  return c;
}

async function assertBlocked(work: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(work, (err: unknown) => {
    assert.ok(err instanceof DestinationNotAllowedError, `expected DestinationNotAllowedError, got ${String(err)}`);
    assert.equal(err.code, 'destination_not_allowed');
    assert.match(err.reason, reason);
    return true;
  });
}

async function assertTransportError(work: Promise<unknown>, causeCode: string, endpointId = 'ep_1'): Promise<void> {
  await assert.rejects(work, (err: unknown) => {
    assert.ok(err instanceof DeliveryTransportError, `expected DeliveryTransportError, got ${String(err)}`);
    assert.equal(err.code, 'delivery_transport_error');
    assert.equal(err.causeCode, causeCode);
    assert.equal(err.endpointId, endpointId);
    return true;
  });
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A raw TCP receiver: waits for the request, then runs `respond` on the socket. */
function rawReceiver(respond: (socket: net.Socket) => void): Promise<Listener> {
  return listen(
    net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => respond(socket));
    }),
  );
}

/** Writes `bytes` one at a time every `everyMs`, at most `limit` bytes, stopping when the peer goes away. */
function trickle(socket: net.Socket, bytes: Buffer, everyMs: number, limit = bytes.length): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (sent >= Math.min(limit, bytes.length) || socket.destroyed) {
      clearInterval(timer);
      return;
    }
    socket.write(bytes.subarray(sent, sent + 1));
    sent += 1;
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
}

describe('http client: destinations', () => {
  it('delivers a POST to an allowlisted loopback receiver and returns status, headers and body snippet', async () => {
    let received: { method?: string; body: string; contentType?: string } | undefined;
    const receiver = await httpReceiver(async (req, res) => {
      received = { method: req.method, body: await readBody(req), contentType: req.headers['content-type'] };
      res.writeHead(201, { 'x-receiver': 'yes' }).end('accepted');
    });

    const result = await client().post(receiver.url, { 'content-type': 'application/json' }, '{"a":1}', {
      endpointId: 'ep_1',
    });

    assert.equal(result.statusCode, 201);
    assert.equal(result.headers['x-receiver'], 'yes');
    assert.equal(result.bodySnippet, 'accepted');
    assert.equal(result.bodyTruncated, false);
    assert.ok(result.durationMs >= 0 && result.durationMs < 5000);
    assert.deepEqual(received, { method: 'POST', body: '{"a":1}', contentType: 'application/json' });
  });

  it('refuses a loopback receiver that is not allowlisted before opening a connection', async () => {
    const receiver = await httpReceiver((_req, res) => res.end('should not be reached'));

    await assertBlocked(client({ allowCidrs: [] }).post(receiver.url, {}, 'x'), /^loopback address 127\.0\.0\.1$/);
    assert.equal(receiver.connections, 0);
  });

  it('refuses a name that rebinds to loopback after passing the registration check', async () => {
    const receiver = await httpReceiver((_req, res) => res.end('should not be reached'));
    const answers = ['93.184.215.14', '127.0.0.1'];
    let calls = 0;
    const rebinding: Resolver = async () => [{ address: answers[Math.min(calls++, answers.length - 1)]!, family: 4 }];
    const policy = new DestinationPolicy({ allowCidrs: [], httpsOnly: false }, rebinding);
    const url = `http://rebind.test:${receiver.port}/hook`;

    await policy.checkUrl(url);
    const delivery = createHttpClient({
      connectTimeoutMs: 2000,
      headersTimeoutMs: 2000,
      totalTimeoutMs: 5000,
      maxResponseBytes: 1024,
      policy,
    });
    clients.push(delivery);
    await assertBlocked(delivery.post(url, {}, 'x'), /^resolves to loopback address 127\.0\.0\.1$/);

    assert.equal(calls, 2, 'registration and delivery each resolved once');
    assert.equal(receiver.connections, 0);
  });

  it('connects to the address the policy resolved, not to one from system DNS', async () => {
    const receiver = await httpReceiver((_req, res) => res.end('pinned'));
    const pinned: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];

    const result = await client({ resolver: pinned }).post(`http://pinned.test:${receiver.port}/hook`, {}, 'x');

    assert.equal(result.bodySnippet, 'pinned');
    assert.equal(receiver.connections, 1);
  });

  it('returns a 302 as a status and never follows the redirect', async () => {
    const target = await httpReceiver((_req, res) => res.end('followed'));
    const redirecting = await httpReceiver((_req, res) => res.writeHead(302, { location: target.url }).end());

    const result = await client().post(redirecting.url, {}, 'x');

    assert.equal(result.statusCode, 302);
    assert.equal(result.headers.location, target.url);
    assert.equal(target.connections, 0);
    assert.equal(target.requests, 0);
  });

  it('reports a refused connection as a transport error with the errno and the endpoint id', async () => {
    const gone = await httpReceiver((_req, res) => res.end());
    await gone.close();

    await assertTransportError(client().post(gone.url, {}, 'x', { endpointId: 'ep_1' }), 'ECONNREFUSED');
  });

  it('passes a DNS failure at delivery time through as a retryable transport error', async () => {
    await assertTransportError(
      client().post('http://nxdomain.test/hook', {}, 'x', { endpointId: 'ep_1' }),
      'ENOTFOUND',
    );
  });
});

describe('http client: hostile receivers', () => {
  it('stops reading a 100 MB body at the cap without buffering it', async () => {
    const total = 100 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let written = 0;
    const receiver = await httpReceiver((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': String(total) });
      const pump = (): void => {
        while (written < total && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        if (written >= total) res.end();
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();

    const result = await client({ maxResponseBytes: 64 * 1024 }).post(receiver.url, {}, 'x');

    const elapsed = Date.now() - started;
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    assert.equal(result.statusCode, 200);
    assert.equal(result.bodyTruncated, true);
    assert.equal(result.bodySnippet.length, 4096);
    assert.ok(elapsed < 3000, `took ${elapsed} ms`);
    assert.ok(written < total / 4, `receiver managed to write ${written} bytes`);
    assert.ok(rssGrowth < 50 * 1024 * 1024, `RSS grew by ${rssGrowth} bytes`);
  });

  it('keeps a body of exactly the cap whole and untruncated', async () => {
    const receiver = await httpReceiver((_req, res) => res.end('x'.repeat(100)));

    const result = await client({ maxResponseBytes: 100 }).post(receiver.url, {}, 'x');

    assert.equal(result.bodyTruncated, false);
    assert.equal(result.bodySnippet, 'x'.repeat(100));
  });

  it('keeps no more than the cap when the cap is below 4 KiB', async () => {
    const receiver = await httpReceiver((_req, res) => res.end('y'.repeat(10_000)));

    const result = await client({ maxResponseBytes: 10 }).post(receiver.url, {}, 'x');

    assert.equal(result.bodyTruncated, true);
    assert.equal(result.bodySnippet, 'y'.repeat(10));
  });

  it('cuts off a receiver that trickles headers at the headers timeout', async () => {
    const receiver = await rawReceiver((socket) =>
      trickle(socket, Buffer.from('HTTP/1.1 200 OK\r\nX-Slow: ' + 'z'.repeat(200)), 200),
    );
    const started = Date.now();

    await assertTransportError(
      client({ headersTimeoutMs: 500, totalTimeoutMs: 5000 }).post(receiver.url, {}, 'x', { endpointId: 'ep_1' }),
      'UND_ERR_HEADERS_TIMEOUT',
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 400 && elapsed < 2000, `took ${elapsed} ms`);
  });

  it('cuts off a receiver that trickles headers at the total deadline when that comes first', async () => {
    const receiver = await rawReceiver((socket) =>
      trickle(socket, Buffer.from('HTTP/1.1 200 OK\r\nX-Slow: ' + 'z'.repeat(200)), 200),
    );
    const started = Date.now();

    await assertTransportError(
      client({ headersTimeoutMs: 5000, totalTimeoutMs: 500 }).post(receiver.url, {}, 'x', { endpointId: 'ep_1' }),
      'deadline_exceeded',
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 400 && elapsed < 2000, `took ${elapsed} ms`);
  });

  it('stops reading a trickled body at the total deadline and keeps the status that arrived', async () => {
    const receiver = await rawReceiver((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
      trickle(socket, Buffer.alloc(1000, 'b'), 100);
    });
    const started = Date.now();

    const result = await client({ headersTimeoutMs: 2000, totalTimeoutMs: 800 }).post(receiver.url, {}, 'x', {
      endpointId: 'ep_1',
    });

    const elapsed = Date.now() - started;
    assert.equal(result.statusCode, 200);
    assert.equal(result.bodyIncomplete, 'timeout');
    // The trickle would take 100 s; only the deadline can have ended the read this soon.
    assert.ok(elapsed >= 700 && elapsed < 10_000, `took ${elapsed} ms`);
  });
});

describe('http client: through a forward proxy', () => {
  /** A minimal CONNECT proxy, the mode undici's ProxyAgent uses for every target by default. */
  async function connectProxy(): Promise<Listener & { tunnels: string[] }> {
    const tunnels: string[] = [];
    const server = http.createServer((_req, res) => res.writeHead(405).end());
    server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    return Object.assign(await listen(server), { tunnels });
  }

  it('delivers through the proxy when the target is allowed', async () => {
    const proxy = await connectProxy();
    const receiver = await httpReceiver((_req, res) => res.end('via proxy'));

    const result = await client({ proxyUrl: `http://127.0.0.1:${proxy.port}` }).post(receiver.url, {}, 'x');

    assert.equal(result.bodySnippet, 'via proxy');
    assert.deepEqual(proxy.tunnels, [`127.0.0.1:${receiver.port}`]);
  });

  it('checks the target before asking the proxy, so a refused target never reaches it', async () => {
    const proxy = await connectProxy();
    const receiver = await httpReceiver((_req, res) => res.end('should not be reached'));

    await assertBlocked(
      client({ allowCidrs: [], proxyUrl: `http://127.0.0.1:${proxy.port}` }).post(receiver.url, {}, 'x'),
      /^loopback address 127\.0\.0\.1$/,
    );
    assert.equal(proxy.connections, 0);
    assert.equal(receiver.connections, 0);
  });

  it('resolves target names before asking the proxy and refuses private answers', async () => {
    const proxy = await connectProxy();
    const privateName: Resolver = async () => [{ address: '10.0.0.7', family: 4 }];

    await assertBlocked(
      client({ allowCidrs: [], resolver: privateName, proxyUrl: `http://127.0.0.1:${proxy.port}` }).post(
        'http://internal.test/hook',
        {},
        'x',
      ),
      /^resolves to private address 10\.0\.0\.7$/,
    );
    assert.equal(proxy.connections, 0);
  });
});

describe('http client: the status decides once it has arrived (slow or broken bodies)', () => {
  /** Headers at once, then `body` one byte every `everyMs`. */
  function slowBody(head: string, body: string, everyMs: number): Promise<Listener> {
    return rawReceiver((socket) => {
      socket.write(head);
      trickle(socket, Buffer.from(body), everyMs);
    });
  }

  it('returns a 200 whose body trickles in, instead of a timeout', async () => {
    const body = 'ok, got it, thx';
    const receiver = await slowBody(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`, body, 300);

    const result = await client({ totalTimeoutMs: 1000, bodyReadTimeoutMs: 400 }).post(receiver.url, {}, 'x');

    assert.equal(result.statusCode, 200);
    assert.equal(result.bodyIncomplete, 'timeout');
    assert.ok(body.startsWith(result.bodySnippet), `snippet ${JSON.stringify(result.bodySnippet)}`);
    assert.ok(result.bodySnippet.length < body.length);
  });

  it('returns a 503 with its Retry-After when the body trickles, instead of a timeout', async () => {
    const body = 'x'.repeat(200);
    const receiver = await slowBody(
      `HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
      100,
    );

    const result = await client({ totalTimeoutMs: 800, bodyReadTimeoutMs: 300 }).post(receiver.url, {}, 'x');

    assert.equal(result.statusCode, 503);
    assert.equal(result.headers['retry-after'], '7');
    assert.equal(result.bodyIncomplete, 'timeout');
  });

  it('returns a 200 whose chunked body never ends, once the idle body timeout fires', async () => {
    const receiver = await rawReceiver((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    });

    const result = await client({ totalTimeoutMs: 5000, bodyIdleTimeoutMs: 300, bodyReadTimeoutMs: 3000 }).post(
      receiver.url,
      {},
      'x',
    );

    assert.equal(result.statusCode, 200);
    assert.equal(result.bodySnippet, 'hello');
    assert.equal(result.bodyIncomplete, 'timeout');
  });

  it('returns a 200 whose chunked body never ends, once the body budget is spent', async () => {
    const receiver = await rawReceiver((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      // Keeps the connection busy so the idle timeout never fires: only the body budget can end the read.
      const timer = setInterval(() => socket.destroyed || socket.write('1\r\n.\r\n'), 50);
      socket.on('close', () => clearInterval(timer));
    });
    const started = Date.now();

    const result = await client({ totalTimeoutMs: 10_000, bodyIdleTimeoutMs: 5000, bodyReadTimeoutMs: 400 }).post(
      receiver.url,
      {},
      'x',
    );

    assert.equal(result.statusCode, 200);
    assert.ok(result.bodySnippet.startsWith('hello'));
    assert.equal(result.bodyIncomplete, 'timeout');
    // Nothing else ends the read before the 10 s deadline; a generous bound only a missing body budget breaks.
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 8000, `took ${elapsed} ms`);
  });

  it('returns a 2xx whose connection is reset mid-body, instead of a connection error', async () => {
    const receiver = await rawReceiver((socket) => {
      socket.write('HTTP/1.1 202 Accepted\r\nContent-Length: 100\r\n\r\n0123456789');
      setTimeout(() => socket.resetAndDestroy(), 100);
    });

    const result = await client().post(receiver.url, {}, 'x');

    assert.equal(result.statusCode, 202);
    assert.equal(result.bodySnippet, '0123456789');
    assert.equal(result.bodyIncomplete, 'error');
  });

  it('returns a 200 whose body ends short of its Content-Length, instead of a protocol error', async () => {
    const receiver = await rawReceiver((socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort');
    });

    const result = await client().post(receiver.url, {}, 'x');

    assert.equal(result.statusCode, 200);
    assert.equal(result.bodyIncomplete, 'error');
  });

  it('returns a 200 whose body over the cap trickles in', async () => {
    const receiver = await slowBody('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', 'b'.repeat(1000), 20);

    const result = await client({ totalTimeoutMs: 800, bodyReadTimeoutMs: 400, maxResponseBytes: 64 }).post(
      receiver.url,
      {},
      'x',
    );

    assert.equal(result.statusCode, 200);
    assert.ok(result.bodySnippet.length <= 64);
  });

  it('gives the body at most what is left of the total deadline', async () => {
    const receiver = await rawReceiver((socket) => {
      setTimeout(() => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
        trickle(socket, Buffer.alloc(1000, 'c'), 50);
      }, 600);
    });
    const started = Date.now();

    const result = await client({ totalTimeoutMs: 1000, bodyReadTimeoutMs: 30_000 }).post(receiver.url, {}, 'x');

    assert.equal(result.statusCode, 200);
    assert.equal(result.bodyIncomplete, 'timeout');
    // The trickle would take 50 s and the body budget alone allows 30 s.
    assert.ok(Date.now() - started < 15_000);
  });

  it('still fails an attempt whose headers never complete', async () => {
    const receiver = await rawReceiver((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Le');
      setTimeout(() => socket.resetAndDestroy(), 100);
    });

    await assert.rejects(client().post(receiver.url, {}, 'x', { endpointId: 'ep_1' }), DeliveryTransportError);
  });
});
