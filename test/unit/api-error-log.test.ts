import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { ApiDependencies, ApiInstance } from '../../src/api/server';
import { createApiServer } from '../../src/api/server';
import { createLogger } from '../../src/infra/logger';

/**
 * An unexpected error in the API is a 500 `internal_error` and an error log line. JavaScript's own errors quote the
 * data they choked on (`JSON.parse`, a failed conversion), which may be a request's payload: the line names the
 * error's class and stack frames, never its message. Other errors (Redis, Temporal) keep their message.
 */

const CARD = '4111111111111111';
const ADMIN = 'a'.repeat(32);
const apps: ApiInstance[] = [];
after(() => Promise.all(apps.map((a) => a.close())));

async function publishFailingWith(err: Error): Promise<{ status: number; body: any; lines: string[] }> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const deps = {
    tenants: { require: async () => undefined },
    publisher: {
      publish: async () => {
        throw err;
      },
    },
    maxEventBytes: 1024 * 1024,
    maxEventDepth: 64,
  } as unknown as ApiDependencies;
  const app = createApiServer({ adminToken: ADMIN, deps, log: createLogger('info', {}, sink) });
  apps.push(app);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/tenants/acme/events',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ type: 'card.checked', data: { card: CARD } }),
  });
  return { status: res.statusCode, body: res.json(), lines };
}

describe('API: an unexpected error is logged without payload text', () => {
  for (const err of [
    new SyntaxError(`Unexpected token 'c', "{"card":"${CARD}"}" is not valid JSON`),
    new TypeError(`Cannot convert "${CARD}" to a BigInt`),
    new RangeError(`Invalid array length for ${CARD}`),
  ]) {
    it(`logs a ${err.name} by its class and frames, not its message`, async () => {
      const { status, body, lines } = await publishFailingWith(err);

      assert.equal(status, 500);
      assert.equal(body.error.code, 'internal_error');
      assert.ok(!JSON.stringify(body).includes(CARD));
      const line = lines.find((l) => l.includes('api request failed'));
      assert.ok(line, lines.join('\n'));
      assert.ok(!line.includes(CARD), line);
      const entry = JSON.parse(line) as Record<string, unknown>;
      assert.equal(entry['errorName'], err.name);
      assert.match(String(entry['path']), /\/events$/);
    });
  }

  it('keeps the message of an infrastructure error, which helps the operator', async () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    const { status, lines } = await publishFailingWith(err);

    assert.equal(status, 500);
    const line = lines.find((l) => l.includes('api request failed')) ?? '';
    assert.match(line, /ECONNREFUSED 127\.0\.0\.1:6379/);
  });
});
