import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { receiverPool } from '../support/receiver';
import { uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/**
 * Issue 11, item 9: a tenant's transform runs isolated and bounded. The whole service (API, consumer, worker) runs
 * in this one process, so a transform evaluated on the main thread would stall everything, `/healthz` included.
 *
 * Assertions are counts and orderings, not wall-clock bounds. The figures (time to fail, health answers during
 * the run, RSS peak of this process) are printed for the report.
 */

const TIMEOUT_MS = 2000;
const MAX_MEMORY_MB = 64;
/** Carried in every hostile event; no error message, reason or log line may contain it. */
const MARKER = 'pii-marker-4111111111111111';

interface ProbeFigures {
  readonly windowMs: number;
  readonly healthAnswers: number;
  readonly maxHealthMs: number;
  readonly rssBaselineMb: number;
  readonly rssPeakMb: number;
}

/**
 * Polls `/healthz` back to back (each request waits for the previous answer, then 20 ms) and samples this
 * process's RSS, until stopped.
 */
function startProbe(apiUrl: string): { stop(): Promise<ProbeFigures> } {
  const started = performance.now();
  const rssBaseline = process.memoryUsage.rss();
  let rssPeak = rssBaseline;
  let answers = 0;
  let maxHealthMs = 0;
  let running = true;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 20);
  const loop = (async () => {
    while (running) {
      const sent = performance.now();
      const res = await fetch(`${apiUrl}/healthz`);
      await res.arrayBuffer();
      if (!running) break; // answered after the window closed: does not count
      assert.equal(res.status, 200);
      answers++;
      maxHealthMs = Math.max(maxHealthMs, performance.now() - sent);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      const windowMs = performance.now() - started;
      running = false;
      clearInterval(sampler);
      rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
      const figures = {
        windowMs: Math.round(windowMs),
        healthAnswers: answers,
        maxHealthMs: Math.round(maxHealthMs),
        rssBaselineMb: Math.round(rssBaseline / 2 ** 20),
        rssPeakMb: Math.round(rssPeak / 2 ** 20),
      };
      await loop;
      return figures;
    },
  };
}

/**
 * An event loop that is not stalled answers a back-to-back health poll many times a second. Over a window of
 * `windowMs`, at least one answer per 250 ms (and 5 at most are required), so a short window, a transform cut
 * early by the memory limit, asks for few.
 */
function requiredAnswers(windowMs: number): number {
  return Math.min(5, Math.floor(windowMs / 250));
}

/**
 * /healthz stalled if one answer took as long as a transform's whole time budget: on the event loop that runs a
 * transform, the health check waits for all of it (seconds); otherwise it takes milliseconds.
 */
function assertHealthNotStalled(what: string, probed: ProbeFigures): void {
  assert.ok(
    probed.healthAnswers >= requiredAnswers(probed.windowMs),
    `${what}: /healthz answered ${probed.healthAnswers} times in ${probed.windowMs} ms`,
  );
  assert.ok(probed.maxHealthMs < TIMEOUT_MS, `${what}: one /healthz answer took ${probed.maxHealthMs} ms`);
}

describe('tenant transforms run isolated and bounded in time and memory', () => {
  let stack: TestStack;
  const receivers = receiverPool();

  before(async () => {
    stack = await startStack({
      env: {
        WSS_TRANSFORM_TIMEOUT_MS: String(TIMEOUT_MS),
        WSS_TRANSFORM_MAX_MEMORY_MB: String(MAX_MEMORY_MB),
        WSS_TRANSFORM_PROCESSES: '2',
      },
    });
  });
  after(async () => {
    await receivers.closeAll();
    await stack.stop();
  });

  async function endpoint(tenant: string, body: Record<string, unknown>) {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; secret: string };
  }

  const hostile: [kind: string, expression: string][] = [
    ['one uninterruptible built-in call on a 10M range (the issue)', '$string([1..10000000])'],
    ['a 10M range kept whole', '$count([1..10000000]) & $string([1..10000000])'],
    ['a sort of a 1M range with a JSONata comparator', '$sort([1..1000000], function($a, $b){ $a < $b })'],
    ['a string grown past any sane size', '$pad("", 100000000, "xy" & data.secret)'],
    ['a nested join that multiplies strings', '$join([1..20000].($join([1..2000].(data.secret), ",")), ";")'],
    ['an endless tail recursion', '($f := function($x){ $f($x + 1) }; $f(0))'],
  ];

  it('cuts a hostile dry run at its time or memory limit, and /healthz keeps answering during it', async () => {
    const tenant = uniqueName('hostile');
    const hook = await receivers.start();
    const figures: Record<string, unknown>[] = [];
    for (const [kind, expression] of hostile) {
      const ep = await endpoint(tenant, { url: hook.url, eventTypes: ['*'], transform: expression });
      const probe = startProbe(stack.apiUrl);
      const started = performance.now();
      const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${ep.id}/test`, {
        type: 'order.created',
        data: { secret: MARKER },
      });
      const elapsedMs = Math.round(performance.now() - started);
      const probed = await probe.stop();
      figures.push({ kind, status: res.status, elapsedMs, ...probed, message: res.body?.error?.message });

      assert.equal(res.status, 422, `${kind}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'transform_failed', kind);
      assert.match(
        res.body.error.message,
        /exceeded the (time limit of \d+ ms|memory limit of \d+ MB)|nested deeper|over the length limit/,
      );
      assert.ok(!JSON.stringify(res.body).includes(MARKER), `${kind}: the error quotes the payload`);
      assertHealthNotStalled(kind, probed);
      // Two pools (API and worker) of two threads each, every one capped; plus slack for the rest of the stack.
      assert.ok(
        probed.rssPeakMb - probed.rssBaselineMb < 4 * (MAX_MEMORY_MB + 64) + 128,
        `${kind}: RSS grew from ${probed.rssBaselineMb} to ${probed.rssPeakMb} MB`,
      );
    }
    console.log(`[figures] dry runs: ${JSON.stringify(figures, null, 1)}`);
    const health = await fetch(`${stack.apiUrl}/healthz`);
    assert.equal(health.status, 200);
  });

  it("delivers another tenant's event while one tenant's hostile transforms fail once each as transform_failed", async () => {
    const hostileTenant = uniqueName('hostile');
    const otherTenant = uniqueName('calm');
    const [bad, good] = [await receivers.start(), await receivers.start()];
    // Each of these holds a transform process for the whole time limit.
    const holding = [];
    for (const expression of ['($f := function($x){ $f($x + 1) }; $f(0))', '$count($distinct([1..500000].$string()))'])
      holding.push(await endpoint(hostileTenant, { url: bad.url, eventTypes: ['*'], transform: expression }));
    // This one is cut by the memory limit, usually sooner.
    const memory = await endpoint(hostileTenant, {
      url: bad.url,
      eventTypes: ['*'],
      transform: '$string([1..10000000])',
    });
    await endpoint(otherTenant, { url: good.url, eventTypes: ['*'], transform: '{"id": id, "n": data.n}' });

    // Warm: the worker's transform processes start with its first transform.
    await stack.xadd('tenant', otherTenant, 'type', 'order.created', 'data', '{"n":0}', 'id', 'c0');
    await waitFor('the warm-up delivered', () => good.requests.length === 1, 60_000, 20);

    const probe = startProbe(stack.apiUrl);
    const started = performance.now();
    const hostileData = JSON.stringify({ secret: MARKER });
    await stack.xadd('tenant', hostileTenant, 'type', 'order.created', 'data', hostileData, 'id', 'h1');
    await stack.xadd('tenant', otherTenant, 'type', 'order.created', 'data', '{"n":1}', 'id', 'c1');

    const hostileHandle = stack.temporal.workflow.getHandle(workflowIdOf(hostileTenant, 'h1'));
    const hostileResult = waitFor('hostile result', () => hostileHandle.result(), 120_000);
    await waitFor('the other tenant delivered', () => good.requests.length === 2, 60_000, 20);
    const otherDeliveredMs = Math.round(performance.now() - started);
    const holdingEndedBefore = holding.filter((ep) =>
      stack.logs.some((l) => l.includes('delivery failed') && l.includes(ep.id)),
    ).length;
    const result = await hostileResult;
    const hostileDoneMs = Math.round(performance.now() - started);
    const probed = await probe.stop();
    console.log(`[figures] deliveries: ${JSON.stringify({ otherDeliveredMs, hostileDoneMs, ...probed })}`);

    assert.equal(good.requests[1]!.body.toString(), '{"id":"c1","n":1}');
    assert.equal(holdingEndedBefore, 0, "the other tenant's delivery waited for a hostile transform to end");
    assert.equal(bad.requests.length, 0);
    for (const ep of [...holding, memory]) {
      const d = result.deliveries.find((x: { endpointId: string }) => x.endpointId === ep.id);
      assert.equal(d?.status, 'failed', JSON.stringify(d));
      assert.equal(d?.attempts, 1, 'a transform over its limit is permanent, not retried');
      assert.match(d?.lastError ?? '', /transform_failed.*exceeded the (time|memory) limit/);
      assert.ok(!String(d?.lastError).includes(MARKER));
    }
    assertHealthNotStalled('deliveries', probed);
    assert.ok(!stack.logs.some((l) => l.includes(MARKER)), 'a log line quotes the payload');
  });
});
