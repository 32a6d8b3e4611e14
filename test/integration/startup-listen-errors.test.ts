import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serviceAddresses, uniqueName } from '../support/services';

/**
 * A role whose port is taken stops at start-up with a message that names the variable (not Node's bare
 * `listen EADDRINUSE 127.0.0.1:9464`). Real entry points against the real Redis and Temporal of the test stack.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const EXIT_WAIT_MS = 120_000;

/** Runs a role until it exits (bounded by EXIT_WAIT_MS); resolves with its exit code and output. */
async function runRole(role: 'worker' | 'consumer' | 'api', overrides: Record<string, string>) {
  const { redisUrl, temporalAddress } = serviceAddresses();
  const id = uniqueName('listen').replace(/-/g, '_');
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSS_')));
  const child = spawn(process.execPath, ['--import', 'tsx', `src/main/${role}.ts`], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...inherited,
      REDIS_URL: redisUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      WSS_KEY_PREFIX: id,
      WSS_STREAM: `${id}:events`,
      WSS_CONSUMER_GROUP: `${id}-group`,
      WSS_TASK_QUEUE: `${id}-queue`,
      WSS_ADMIN_TOKEN: `admin_${randomBytes(16).toString('hex')}`,
      WSS_MASTER_KEY: randomBytes(32).toString('base64'),
      WSS_API_PORT: '0',
      WSS_OPS_PORT: '0',
      WSS_LOG_LEVEL: 'info',
      ...overrides,
    },
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (output += chunk));
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_WAIT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, output };
}

describe('a role whose port is taken stops at start-up naming the variable', () => {
  let taken: net.Server;
  let port = 0;
  before(async () => {
    taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  after(() => taken.close());

  it('the consumer with WSS_OPS_PORT taken', async () => {
    const { code, output } = await runRole('consumer', { WSS_OPS_HOST: '127.0.0.1', WSS_OPS_PORT: String(port) });
    assert.equal(code, 1, output);
    assert.match(output, new RegExp(`WSS_OPS_PORT: port ${port} on 127\\.0\\.0\\.1 is already in use`), output);
  });

  it('the API with WSS_API_PORT taken', async () => {
    const { code, output } = await runRole('api', { WSS_API_HOST: '127.0.0.1', WSS_API_PORT: String(port) });
    assert.equal(code, 1, output);
    assert.match(output, new RegExp(`WSS_API_PORT: port ${port} on 127\\.0\\.0\\.1 is already in use`), output);
  });

  it('the worker with WSS_TEMPORAL_METRICS_BIND taken', async () => {
    const { code, output } = await runRole('worker', { WSS_TEMPORAL_METRICS_BIND: `127.0.0.1:${port}` });
    assert.equal(code, 1, output);
    assert.match(output, /WSS_TEMPORAL_METRICS_BIND: cannot start the Temporal SDK's metrics exporter/, output);
  });
});
