import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { transportReason } from '../../src/domain/classify-response';
import { DeliveryTransportError, ValidationError } from '../../src/domain/errors';
import { ConfigError } from '../../src/infra/config';
import { DestinationPolicy } from '../../src/infra/egress/destination-policy';
import type { Resolver } from '../../src/infra/egress/destination-policy';
import { createHttpClient, readExtraCaFile } from '../../src/infra/http-client';
import type { HttpClient, HttpClientOptions } from '../../src/infra/http-client';
import { checkClientCertificate } from '../../src/security/endpoint-credentials';
import { createReceiverPki, startHttpsReceiver } from '../support/https-receiver';
import type { HttpsReceiver, ReceiverPki } from '../support/https-receiver';

/**
 * The delivery HTTP client over TLS, on loopback receivers with a generated CA: through a CONNECT proxy (the TLS
 * session runs end to end, the proxy sees ciphertext only), the operator's CA bundle, and the authentication it
 * adds per request.
 */

const toLoopback: Resolver = async (hostname) => {
  if (hostname.endsWith('.test')) return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

let pki: ReceiverPki;
const clients: HttpClient[] = [];
const closers: (() => Promise<unknown>)[] = [];

before(() => {
  pki = createReceiverPki();
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const close of closers) await close();
  pki.remove();
});

function client(overrides: Partial<HttpClientOptions> = {}): HttpClient {
  const c = createHttpClient({
    connectTimeoutMs: 2000,
    headersTimeoutMs: 2000,
    totalTimeoutMs: 5000,
    maxResponseBytes: 64 * 1024,
    policy: new DestinationPolicy({ allowCidrs: ['127.0.0.0/8'], httpsOnly: false }, toLoopback),
    extraCaPem: pki.caPem,
    ...overrides,
  });
  clients.push(c);
  return c;
}

async function receiver(options: Parameters<typeof startHttpsReceiver>[0]): Promise<HttpsReceiver> {
  const r = await startHttpsReceiver(options);
  closers.push(() => r.close());
  return r;
}

/** A CONNECT proxy that resolves every name to 127.0.0.1 itself and keeps every byte the client sent upstream. */
async function connectProxy(): Promise<{ port: number; tunnels: string[]; upstreamBytes: () => Buffer }> {
  const tunnels: string[] = [];
  const chunks: Buffer[] = [];
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  const sockets = new Set<net.Socket>();
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    sockets.add(socket);
    tunnels.push(req.url ?? '');
    const port = Number((req.url ?? '').split(':')[1]);
    const upstream = net.connect(port, '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      chunks.push(head);
      upstream.write(head);
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    tunnels,
    upstreamBytes: () => Buffer.concat(chunks),
  };
}

describe('https client: through a CONNECT proxy', () => {
  it('keeps TLS end to end to the receiver: SNI and certificate of the URL host, ciphertext through the proxy', async () => {
    const proxy = await connectProxy();
    const hook = await receiver({ cert: pki.issue('receiver.test') });
    const secretMarker = 'body-marker-8d1f0c2e';

    const result = await client({ proxyUrl: `http://127.0.0.1:${proxy.port}` }).post(
      hook.url('receiver.test'),
      { 'x-check': 'header-marker-51aa' },
      JSON.stringify({ secretMarker }),
      { auth: { type: 'bearer', token: 'bearer-marker-77c3' } },
    );

    assert.equal(result.statusCode, 200);
    assert.deepEqual(proxy.tunnels, [`receiver.test:${hook.port}`]);
    assert.equal(hook.requests[0]?.servername, 'receiver.test');
    assert.equal(hook.requests[0]?.headers.authorization, 'Bearer bearer-marker-77c3');
    const seen = proxy.upstreamBytes().toString('latin1');
    assert.ok(seen.length > 0, 'the proxy carried the request');
    for (const marker of [secretMarker, 'header-marker-51aa', 'bearer-marker-77c3', 'POST /hook']) {
      assert.equal(seen.includes(marker), false, `${marker} crossed the proxy in the clear`);
    }
  });

  it('checks the certificate against the URL host through the tunnel too', async () => {
    const proxy = await connectProxy();
    const hook = await receiver({ cert: pki.issue('other.test') });

    await assert.rejects(
      client({ proxyUrl: `http://127.0.0.1:${proxy.port}` }).post(hook.url('receiver.test'), {}, 'x', {
        endpointId: 'ep_1',
      }),
      (err: unknown) => {
        assert.ok(err instanceof DeliveryTransportError, String(err));
        assert.equal(transportReason(err.causeCode), 'tls_error', err.causeCode);
        return true;
      },
    );
    assert.equal(hook.requests.length, 0);
  });

  it('presents an endpoint client certificate through the tunnel', async () => {
    const proxy = await connectProxy();
    const own = pki.issue('proxied-client', { usage: 'client' });
    const hook = await receiver({ cert: pki.issue('mtls.test'), clientCa: pki.caPem });

    const result = await client({ proxyUrl: `http://127.0.0.1:${proxy.port}` }).post(hook.url('mtls.test'), {}, 'x', {
      auth: { type: 'mtls', certificate: own.cert, privateKey: own.key },
    });

    assert.equal(result.statusCode, 200);
    assert.equal(hook.requests[0]?.clientFingerprint, own.fingerprint256);
  });
});

describe('https client: authentication headers', () => {
  it("replaces an Authorization header the request already has with the endpoint's, sent once", async () => {
    const hook = await receiver({ cert: pki.issue('basic.test') });

    await client().post(hook.url('basic.test'), { authorization: 'Bearer from-a-transform', 'x-a': '1' }, 'x', {
      auth: { type: 'basic', username: 'user', password: 'pa:ss' },
    });

    const raw = hook.requests[0]!.rawHeaders;
    const names = raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    assert.equal(names.filter((n) => n === 'authorization').length, 1);
    assert.equal(hook.requests[0]?.headers.authorization, `Basic ${Buffer.from('user:pa:ss').toString('base64')}`);
  });
});

describe('WSS_HTTP_CA_FILE', () => {
  it('trusts the bundle besides the bundled roots, and fails without it as tls_error', async () => {
    const hook = await receiver({ cert: pki.issue('private.test') });
    const bundle = readExtraCaFile(pki.caFile);
    assert.equal((await client({ extraCaPem: bundle }).post(hook.url('private.test'), {}, 'x')).statusCode, 200);
    const systemRootsOnly = createHttpClient({
      connectTimeoutMs: 2000,
      headersTimeoutMs: 2000,
      totalTimeoutMs: 5000,
      maxResponseBytes: 1024,
      policy: new DestinationPolicy({ allowCidrs: ['127.0.0.0/8'], httpsOnly: false }, toLoopback),
    });
    clients.push(systemRootsOnly);
    await assert.rejects(
      systemRootsOnly.post(hook.url('private.test'), {}, 'x'),
      (err: unknown) => err instanceof DeliveryTransportError && transportReason(err.causeCode) === 'tls_error',
    );
    assert.equal(hook.requests.length, 1);
  });

  it('stops start-up naming the variable when the file is missing or holds no certificate', () => {
    assert.throws(
      () => readExtraCaFile(path.join(pki.dir, 'missing.pem')),
      (err: unknown) => err instanceof ConfigError && /WSS_HTTP_CA_FILE: cannot read .*ENOENT/.test(err.message),
    );
    const junk = path.join(pki.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    assert.throws(
      () => readExtraCaFile(junk),
      (err: unknown) => err instanceof ConfigError && /WSS_HTTP_CA_FILE: .* holds no PEM certificate/.test(err.message),
    );
    const broken = path.join(pki.dir, 'broken.pem');
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    assert.throws(
      () => readExtraCaFile(broken),
      (err: unknown) => err instanceof ConfigError && /WSS_HTTP_CA_FILE/.test(err.message),
    );
  });
});

describe('mTLS client certificates at registration', () => {
  it('accepts a matching pair and refuses an expired certificate, a foreign key or garbage, quoting neither', () => {
    const own = pki.issue('pair', { usage: 'client' });
    const summary = checkClientCertificate(own.cert, own.key);
    assert.equal(summary.fingerprint256, own.fingerprint256);
    assert.match(summary.subject, /CN=pair/);

    const expired = pki.issue('old', { usage: 'client', expired: true });
    const stranger = pki.issue('stranger', { usage: 'client' });
    const serverOnly = pki.issue('server-only.test', { usage: 'server' });
    for (const [cert, key, field, reason] of [
      [expired.cert, expired.key, 'auth.certificate', /expired/],
      // A receiver checking client certificates refuses each of these at the handshake, on every attempt.
      [pki.caPem, pki.caKeyPem, 'auth.certificate', /a CA certificate/],
      [serverOnly.cert, serverOnly.key, 'auth.certificate', /not for client authentication/],
      [own.cert, stranger.key, 'auth.privateKey', /does not belong/],
      ['not a certificate', own.key, 'auth.certificate', /not a PEM certificate/],
      [own.cert, 'not a key', 'auth.privateKey', /not an unencrypted PEM private key/],
    ] as const) {
      assert.throws(
        () => checkClientCertificate(cert, key),
        (err: unknown) => {
          assert.ok(err instanceof ValidationError);
          assert.equal(err.field, field);
          assert.match(err.message, reason);
          assert.ok(!err.message.includes('BEGIN'), 'the PEM text is not quoted');
          return true;
        },
      );
    }
  });

  it('refuses a certificate that is not valid yet, beyond five minutes of clock skew', () => {
    const own = pki.issue('early', { usage: 'client' });
    const validFrom = Date.parse(new X509Certificate(own.cert).validFrom);
    assert.throws(
      () => checkClientCertificate(own.cert, own.key, validFrom - 3_600_000),
      (err: unknown) => err instanceof ValidationError && /not valid before/.test(err.message),
    );
    assert.doesNotThrow(() => checkClientCertificate(own.cert, own.key, validFrom - 60_000));
  });
});
