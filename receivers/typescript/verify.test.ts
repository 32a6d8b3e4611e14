import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { wssExpressMiddleware } from './express';
import type { ExpressLikeRequest, ExpressLikeResponse } from './express';
import { WssVerificationError, createWssPreParsingHook } from './fastify';
import { JwksCache, JwksUnavailableError, readRawBody, verifyV1aSignature, verifyWssSignature } from './verify';
import type { Jwks, V1aVerdictReason, WssVerdictReason } from './verify';

interface Vector {
  name: string;
  secret: string;
  timestampHeader: string;
  bodyBase64: string;
  signatureHeader: string;
  now: number;
  toleranceSeconds: number;
  expected: { valid: boolean; reason: WssVerdictReason };
}

const vectors = (
  JSON.parse(readFileSync(join(__dirname, '../../test/vectors/signatures.json'), 'utf8')) as { vectors: Vector[] }
).vectors;

describe('verifyWssSignature against the shared vectors', () => {
  it('loads the vectors', () => assert.ok(vectors.length > 20));
  for (const v of vectors) {
    it(`${v.name} -> ${v.expected.reason}`, () => {
      const verdict = verifyWssSignature({
        secret: v.secret,
        timestampHeader: v.timestampHeader,
        signatureHeader: v.signatureHeader,
        body: Buffer.from(v.bodyBase64, 'base64'),
        now: v.now,
        toleranceSeconds: v.toleranceSeconds,
      });
      assert.deepEqual(verdict, v.expected);
    });
  }
});

describe('verifyWssSignature edge cases', () => {
  const sign = (secret: string, ts: string, body: string): string =>
    createHmac('sha256', secret).update(ts).update(body).digest('hex');

  it('treats missing headers as bad timestamp, then malformed signature', () => {
    const base = { secret: 's', body: '', now: 100 };
    assert.equal(
      verifyWssSignature({ ...base, timestampHeader: undefined, signatureHeader: 'x' }).reason,
      'bad_timestamp',
    );
    assert.equal(
      verifyWssSignature({ ...base, timestampHeader: '100', signatureHeader: undefined }).reason,
      'malformed_signature',
    );
  });

  it('rejects everything when configured with an empty secret', () => {
    const verdict = verifyWssSignature({
      secret: '',
      timestampHeader: '100',
      signatureHeader: sign('', '100', 'b'),
      body: 'b',
      now: 100,
    });
    assert.deepEqual(verdict, { valid: false, reason: 'bad_signature' });
  });

  it('accepts a string body as its UTF-8 bytes', () => {
    const body = '{"name":"Zoë"}';
    const verdict = verifyWssSignature({
      secret: 's',
      timestampHeader: '100',
      signatureHeader: sign('s', '100', body),
      body,
      now: 100,
    });
    assert.equal(verdict.valid, true);
  });
});

describe('readRawBody', () => {
  it('stops reading once the limit is passed', async () => {
    await assert.rejects(readRawBody(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), 1000), { statusCode: 413 });
  });
});

// A real HTTP server on loopback, so the middleware reads an actual IncomingMessage stream.
async function withExpressLikeServer(
  middleware: ReturnType<typeof wssExpressMiddleware>,
  run: (url: string) => Promise<void>,
): Promise<void> {
  const server = createServer((req, res) => {
    const shim: ExpressLikeResponse = {
      status(code) {
        res.statusCode = code;
        return shim;
      },
      json(body) {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      },
    };
    const request = req as typeof req & ExpressLikeRequest;
    void middleware(request, shim, (err) => {
      if (err) {
        res.statusCode = 500;
        res.end(String(err));
        return;
      }
      res.end(JSON.stringify({ echoed: (request.body as Buffer).toString('base64') }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('wssExpressMiddleware', () => {
  const secret = 'wss_express_test';
  const now = 1_700_000_000;
  const middleware = wssExpressMiddleware({ secret, now: () => now, limitBytes: 1024 });
  const body = Buffer.from([0x7b, 0xff, 0x0d, 0x0a, 0x7d]);
  const signature = createHmac('sha256', secret).update(String(now)).update(body).digest('hex');

  it('passes a correctly signed request through with the raw bytes as req.body', async () => {
    await withExpressLikeServer(middleware, async (url) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'x-wss-timestamp': String(now), 'x-wss-signature': `${'0'.repeat(64)},${signature}` },
        body,
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { echoed: body.toString('base64') });
    });
  });

  it('answers 401 with the reason and never reaches the route', async () => {
    await withExpressLikeServer(middleware, async (url) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'x-wss-timestamp': String(now - 301), 'x-wss-signature': signature },
        body,
      });
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), { error: 'invalid_signature', reason: 'timestamp_out_of_tolerance' });
    });
  });

  it('answers 413 for a body over the limit', async () => {
    await withExpressLikeServer(middleware, async (url) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'x-wss-timestamp': String(now) },
        body: Buffer.alloc(2048),
      });
      assert.equal(res.status, 413);
    });
  });

  it('refuses an empty secret at setup', () => {
    assert.throws(() => wssExpressMiddleware({ secret: '' }), /must not be empty/);
  });
});

describe('Fastify preParsing hook', () => {
  const secret = 'wss_fastify_test';
  const now = 1_700_000_000;
  const hook = createWssPreParsingHook({ secret, now: () => now });
  const body = Buffer.from('{"id":"evt_1"}\r\n');
  const signature = createHmac('sha256', secret).update(String(now)).update(body).digest('hex');

  it('replays the verified bytes to the parser and keeps them on request.rawBody', async () => {
    const request = {
      headers: { 'x-wss-timestamp': String(now), 'x-wss-signature': signature } as Record<string, string>,
    };
    const stream = await hook(request, {}, Readable.from([body.subarray(0, 5), body.subarray(5)]));
    assert.deepEqual(await readRawBody(stream, 1024), body);
    assert.deepEqual((request as { rawBody?: Buffer }).rawBody, body);
    assert.equal((stream as Readable & { receivedEncodedLength: number }).receivedEncodedLength, body.length);
  });

  it('throws a 401 error carrying the reason', async () => {
    const request = { headers: { 'x-wss-timestamp': String(now), 'x-wss-signature': signature.toUpperCase() } };
    await assert.rejects(hook(request, {}, Readable.from([body])), (err: unknown) => {
      assert.ok(err instanceof WssVerificationError);
      assert.equal(err.statusCode, 401);
      assert.equal(err.reason, 'malformed_signature');
      return true;
    });
  });
});

interface V1aVector {
  name: string;
  jwks: Jwks;
  id: string;
  timestampHeader: string;
  signatureHeader: string;
  kidHeader: string | null;
  bodyBase64: string;
  now: number;
  toleranceSeconds: number;
  expected: { valid: boolean; reason: V1aVerdictReason };
}

const v1aVectors = (
  JSON.parse(readFileSync(join(__dirname, '../../test/vectors/v1a.json'), 'utf8')) as { vectors: V1aVector[] }
).vectors;

describe('verifyV1aSignature against the shared v1a vectors', () => {
  it('loads the vectors', () => assert.ok(v1aVectors.length > 20));
  for (const v of v1aVectors) {
    it(`${v.name} -> ${v.expected.reason}`, () => {
      const verdict = verifyV1aSignature({
        jwks: v.jwks,
        id: v.id,
        timestamp: v.timestampHeader,
        signature: v.signatureHeader,
        kid: v.kidHeader ?? undefined,
        body: Buffer.from(v.bodyBase64, 'base64'),
        now: v.now,
        toleranceSeconds: v.toleranceSeconds,
      });
      assert.deepEqual(verdict, v.expected);
    });
  }
});

describe('JwksCache', () => {
  const rotation = v1aVectors.find((v) => v.name === 'rotation: receiver holds both keys')!;
  const [newKey, oldKey] = rotation.jwks.keys;
  const request = {
    id: rotation.id,
    timestamp: rotation.timestampHeader,
    // Only the new key's signature: a receiver holding only the old key must refetch.
    signature: rotation.signatureHeader.split(' ')[0],
    kid: rotation.kidHeader!.split(' ')[0],
    body: Buffer.from(rotation.bodyBase64, 'base64'),
    now: rotation.now,
  };

  /** A loopback JWKS server whose answer the test changes; counts its requests. */
  async function jwksServer(initial: Jwks) {
    const state = { jwks: initial as Jwks | 'fail', hits: 0 };
    const server = createServer((_req, res) => {
      state.hits += 1;
      if (state.jwks === 'fail') res.writeHead(503).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state.jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    return { state, url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it('refetches when a request names a key it lacks, at most once per minimum interval', async () => {
    const srv = await jwksServer({ keys: [oldKey!] });
    let clock = 1_000_000;
    try {
      const cache = new JwksCache(srv.url, { clock: () => clock, minRefreshSeconds: 30 });
      await cache.keys();
      assert.equal(srv.state.hits, 1);
      // Rotated, but within the minimum interval: the cached set is used, the new kid is unknown.
      srv.state.jwks = { keys: [newKey!, oldKey!] };
      assert.equal((await cache.verify(request)).reason, 'unknown_key');
      assert.equal(srv.state.hits, 1);
      clock += 31_000;
      assert.deepEqual(await cache.verify(request), { valid: true, reason: 'ok' });
      assert.equal(srv.state.hits, 2);
      // Known now: no more fetches.
      assert.deepEqual(await cache.verify(request), { valid: true, reason: 'ok' });
      assert.equal(srv.state.hits, 2);
    } finally {
      await srv.close();
    }
  });

  it('keeps the keys it has when a refetch fails, and fails loudly when it has none', async () => {
    const srv = await jwksServer({ keys: [newKey!] });
    let clock = 1_000_000;
    try {
      const cache = new JwksCache(srv.url, { clock: () => clock, ttlSeconds: 60 });
      assert.equal((await cache.verify(request)).valid, true);
      srv.state.jwks = 'fail';
      clock += 61_000;
      assert.equal((await cache.verify(request)).valid, true, 'the expired set is kept while the sender is down');
      await assert.rejects(new JwksCache(srv.url).keys(), JwksUnavailableError);
    } finally {
      await srv.close();
    }
  });
});
