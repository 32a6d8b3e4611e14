import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { listenError, sdkMetricsExporterError } from '../../src/infra/listen-error';

const OPS = { host: 'WSS_OPS_HOST', port: 'WSS_OPS_PORT' } as const;

/** The error a real listen gives for host:port. */
async function listenFailure(host: string, port: number): Promise<unknown> {
  const app = Fastify({ logger: false });
  try {
    await app.listen({ host, port });
  } catch (err) {
    return err;
  } finally {
    await app.close();
  }
  assert.fail(`listening on ${host}:${port} succeeded`);
}

describe('start-up listen errors name the variable', () => {
  it('a port in use names the port and host variables', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const message = listenError(await listenFailure('127.0.0.1', port), OPS, '127.0.0.1', port).message;
      assert.match(message, new RegExp(`^WSS_OPS_PORT: port ${port} on 127\\.0\\.0\\.1 is already in use`), message);
      assert.match(message, /WSS_OPS_HOST/, message);
    } finally {
      taken.close();
    }
  });

  it('a host that does not resolve or is not local names the host variable', async () => {
    const unresolvable = listenError(await listenFailure('999.1.1.1', 0), OPS, '999.1.1.1', 0).message;
    assert.match(unresolvable, /^WSS_OPS_HOST: 999\.1\.1\.1 /, unresolvable);
    const api = { host: 'WSS_API_HOST', port: 'WSS_API_PORT' } as const;
    const foreign = listenError(await listenFailure('192.0.2.1', 0), api, '192.0.2.1', 0).message;
    assert.match(foreign, /^WSS_API_HOST: 192\.0\.2\.1 is not an address of this host/, foreign);
  });

  it('keeps an unknown failure, with both variables', () => {
    const message = listenError(new Error('boom'), OPS, 'h', 1).message;
    assert.match(message, /^WSS_OPS_HOST \/ WSS_OPS_PORT: cannot listen on h:1: boom$/);
  });

  it("names WSS_TEMPORAL_METRICS_BIND when the SDK's exporter cannot start", () => {
    const err = new Error('Failed to start prometheus metrics exporter: Address already in use (os error 98)');
    assert.match(
      sdkMetricsExporterError(err, { configured: true, address: '0.0.0.0:9465' }).message,
      /^WSS_TEMPORAL_METRICS_BIND: cannot start the Temporal SDK's metrics exporter on 0\.0\.0\.0:9465: Failed to start .*Address already in use/,
    );
    assert.doesNotMatch(
      sdkMetricsExporterError(err, { configured: false, address: '127.0.0.1:4000' }).message,
      /^WSS_TEMPORAL_METRICS_BIND/,
    );
  });
});
