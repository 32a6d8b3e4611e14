import { monitorEventLoopDelay } from 'node:perf_hooks';
import Fastify from 'fastify';
import type { Logger } from './logger';
import type { ServiceMetrics } from './metrics';
import { listenError } from './listen-error';

/** One readiness check: resolves when the dependency is fine, throws (with a reason) when it is not. */
export type ReadinessCheck = () => Promise<void>;

export interface OpsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly log: Logger;
  readonly metrics: ServiceMetrics;
  /** Named checks; `/readyz` is 200 when every one passes within {@link OpsServerOptions.checkTimeoutMs}. */
  readonly checks: Readonly<Record<string, ReadinessCheck>>;
  /** Deadline of each readiness check. Default 2000 ms. */
  readonly checkTimeoutMs?: number;
  /** `/livez` fails when the event loop was blocked longer than this in the last window. Default 10 000 ms. */
  readonly maxEventLoopDelayMs?: number;
  /**
   * More Prometheus text appended to `/metrics`: the Temporal SDK's own worker metrics, scraped from its
   * exporter on loopback. A failure leaves them out and is logged, never failing the scrape.
   */
  readonly extraMetrics?: () => Promise<string>;
  /** True once the process drains (after SIGTERM): `/readyz` then answers 503 `draining` without running checks. */
  readonly draining?: () => boolean;
}

export interface RunningOpsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** How often the event-loop delay is read and reset: `/livez` judges the last full window. */
const LOOP_WINDOW_MS = 5000;

/**
 * The ops port every role serves (`WSS_OPS_PORT`): `/livez`, `/readyz` and `/metrics`, on its own Fastify
 * instance so that probes and scrapes never share the management API's auth, limits or port.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<RunningOpsServer> {
  const checkTimeoutMs = options.checkTimeoutMs ?? 2000;
  const maxDelayMs = options.maxEventLoopDelayMs ?? 10_000;

  // A stuck loop answers no probe at all (the kubelet's timeout catches that); a loop that was blocked for a
  // long time and just came back is caught here.
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  let lastWindowMaxMs = 0;
  const window = setInterval(() => {
    lastWindowMaxMs = delay.max / 1e6;
    delay.reset();
  }, LOOP_WINDOW_MS);
  window.unref();

  const app = Fastify({ logger: false });
  app.get('/livez', async (_req, reply) => {
    const maxMs = Math.max(lastWindowMaxMs, delay.max / 1e6);
    if (maxMs > maxDelayMs) {
      return reply.code(503).send({ status: 'not_live', reason: `event loop blocked for ${Math.round(maxMs)} ms` });
    }
    return { status: 'live' };
  });
  app.get('/readyz', async (_req, reply) => {
    if (options.draining?.()) {
      return reply.code(503).send({ status: 'draining', reason: 'shutting down: finishing in-flight work' });
    }
    const results = await Promise.all(
      Object.entries(options.checks).map(async ([name, check]) => [name, await runCheck(check, checkTimeoutMs)]),
    );
    const checks = Object.fromEntries(results) as Record<string, string>;
    const failing = results.filter(([, result]) => result !== 'ok').map(([name]) => name);
    if (failing.length === 0) return { status: 'ready', checks };
    options.log.warn({ checks }, 'not ready');
    return reply.code(503).send({ status: 'not_ready', reason: `${failing.join(', ')} failing`, checks });
  });
  app.get('/metrics', async (_req, reply) => {
    let text = await options.metrics.registry.metrics();
    if (options.extraMetrics) {
      try {
        text += `\n${await options.extraMetrics()}`;
      } catch (err) {
        options.log.warn({ err: (err as Error).message }, 'could not read the Temporal SDK metrics');
      }
    }
    return reply.header('content-type', options.metrics.registry.contentType).send(text);
  });

  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    clearInterval(window);
    delay.disable();
    await app.close();
    throw listenError(err, { host: 'WSS_OPS_HOST', port: 'WSS_OPS_PORT' }, options.host, options.port);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    port,
    close: async () => {
      clearInterval(window);
      delay.disable();
      await app.close();
    },
  };
}

/** `ok`, or why not: the check's error message, or that it took too long. */
async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([
      check().then(
        () => 'ok',
        (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 300),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
