// How long the deliveries list (GET /v1/tenants/{t}/deliveries, Temporal visibility) takes to answer, on a tenant
// with `events` deliveries of which one in ten failed: the first page, a status page, and walking every page.
// The whole service runs in this process (the integration tests' stack) against the real Redis and Temporal named
// by REDIS_URL and TEMPORAL_ADDRESS.
//
//   node scripts/local-stack.mjs run --ephemeral -- node --import tsx bench/deliveries-list.ts [--events 1000]
import { performance } from 'node:perf_hooks';
import { receiverPool } from '../test/support/receiver';
import { uniqueName, waitFor } from '../test/support/services';
import { startStack } from '../test/support/stack';
import { summarizeLatency } from './stats';

const events = Number(process.argv[process.argv.indexOf('--events') + 1] || 1000);
if (!Number.isInteger(events) || events < 10 || events > 20_000) throw new Error('--events: 10 to 20,000');
const SAMPLES = 15;

async function main(): Promise<void> {
  const stack = await startStack();
  const receivers = receiverPool();
  try {
    const tenant = uniqueName('list').replace(/[^A-Za-z0-9_-]/g, '_');
    await stack.api('POST', '/v1/tenants', { id: tenant });
    const hook = await receivers.start((req) => ({ status: req.body.includes('"fail":true') ? 500 : 200 }));
    const created = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: hook.url,
      eventTypes: ['*'],
      retryPolicy: { maximumAttempts: 1 },
    });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    for (let i = 0; i < events; i++) {
      await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', JSON.stringify({ fail: i % 10 === 0 }));
    }
    const total = async () => {
      let n = 0;
      let cursor: string | undefined;
      do {
        const page = await stack.api(
          'GET',
          `/v1/tenants/${tenant}/deliveries?limit=100&status=delivered${cursor ? `&cursor=${cursor}` : ''}`,
        );
        n += page.body.items.length;
        cursor = page.body.nextCursor ? encodeURIComponent(page.body.nextCursor) : undefined;
      } while (cursor);
      return n;
    };
    await waitFor(
      'every delivery closed and visible',
      async () => (await total()) === events - events / 10,
      600_000,
      1000,
    );

    const time = async (path: string) => {
      const ms: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const started = performance.now();
        const res = await stack.api('GET', path);
        if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
        ms.push(performance.now() - started);
      }
      return summarizeLatency(ms);
    };
    const base = `/v1/tenants/${tenant}/deliveries`;
    const rows: [string, ReturnType<typeof summarizeLatency>][] = [
      ['first page, 50 rows', await time(`${base}?limit=50`)],
      ['status=failed, 50 rows (each row checked for a later run)', await time(`${base}?limit=50&status=failed`)],
      ['eventType + since, 50 rows', await time(`${base}?limit=50&eventType=order.created&since=2020-01-01T00:00:00Z`)],
    ];
    const walkStarted = performance.now();
    const walked = await total();
    const walkMs = performance.now() - walkStarted;
    console.log(`deliveries list on ${events} deliveries (${events / 10} failed), ${SAMPLES} samples each:`);
    for (const [name, s] of rows) {
      console.log(`  ${name}: p50 ${s.p50.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`);
    }
    console.log(`  walking every delivered row, 100 a page: ${walked} rows in ${walkMs.toFixed(0)} ms`);
  } finally {
    await receivers.closeAll();
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
