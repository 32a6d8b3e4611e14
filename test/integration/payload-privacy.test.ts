import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { receiverPool } from '../support/receiver';
import { historyText, uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/**
 * Payload content never reaches logs, failure reasons, dead letters or Temporal history, even where a receiver
 * or a tenant's transform puts it into an error. The worker runs as its real entry point in a child process, so
 * everything it writes (our logs and the Temporal SDK's) is checked, line by line.
 */

const ROOT = path.resolve(__dirname, '../..');
const CARD = '4111111111111111';
const SSN = '078-05-1120';
const DATA = JSON.stringify({ card: CARD, ssn: SSN });
/** Hang guard only: the worker bundles the workflows at start, slow on a busy 2-core machine. */
const START_TIMEOUT_MS = 180_000;
const RESULT_TIMEOUT_MS = 60_000;
const FAST = { initialIntervalMs: 300, backoffCoefficient: 1, jitterPercent: 0 };

function leaks(text: string): string[] {
  return [CARD, SSN, '41111111', '078-05'].filter((secret) => text.includes(secret));
}

describe('payload privacy: what receivers and transforms say about the payload stays out of logs and history', () => {
  let stack: TestStack;
  let worker: ChildProcess;
  /** Every line the worker process wrote, stdout and stderr. */
  const workerLines: string[] = [];
  const receivers = receiverPool();
  const workflowIds: string[] = [];

  before(async () => {
    const id = uniqueName('pp').replace(/-/g, '_');
    const shared: Record<string, string> = {
      WSS_KEY_PREFIX: id,
      WSS_STREAM: `${id}:events`,
      WSS_CONSUMER_GROUP: `${id}-group`,
      WSS_TASK_QUEUE: `${id}-queue`,
      WSS_MASTER_KEY: randomBytes(32).toString('base64'),
      WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
      WSS_LOG_LEVEL: 'info',
    };
    stack = await startStack({ worker: false, env: shared });
    worker = spawn(process.execPath, ['--import', 'tsx', 'src/main/worker.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...shared },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [worker.stdout, worker.stderr]) {
      let rest = '';
      stream?.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString('utf8')).split('\n');
        rest = lines.pop() ?? '';
        workerLines.push(...lines.filter((line) => line.length > 0));
      });
    }
    await waitFor(
      'the worker process to start',
      () => {
        if (worker.exitCode !== null) throw new Error(`worker exited: ${workerLines.join('\n')}`);
        return workerLines.some((line) => line.includes('worker started'));
      },
      START_TIMEOUT_MS,
      200,
    );
  });

  after(async () => {
    if (worker.exitCode === null) {
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }
    await receivers.closeAll();
    await stack.stop();
  });

  async function endpoint(tenant: string, body: Record<string, unknown>): Promise<string> {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { eventTypes: ['*'], ...body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  }

  async function publish(tenant: string, eventId: string) {
    await stack.xadd('tenant', tenant, 'type', 'card.checked', 'id', eventId, 'data', DATA);
    const workflowId = workflowIdOf(tenant, eventId);
    workflowIds.push(workflowId);
    const handle = stack.temporal.workflow.getHandle(workflowId);
    return { handle, result: await waitFor('the delivery result', () => handle.result(), RESULT_TIMEOUT_MS) };
  }

  async function assertNothingLeaked(workflowId: string): Promise<void> {
    const history = historyText(await stack.temporal.workflow.getHandle(workflowId).fetchHistory());
    assert.deepEqual(leaks(history), [], 'Temporal history quotes the payload');
    for (const line of [...stack.logs, ...workerLines]) assert.deepEqual(leaks(line), [], line);
  }

  it("keeps a receiver's echo of the payload in the tenant's attempt log only", async () => {
    const tenant = uniqueName('echo');
    const echo400 = await receivers.start((req) => ({
      status: 400,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: 'validation failed', received: JSON.parse(req.body.toString('utf8')) }),
    }));
    const echo500 = await receivers.start((req) => ({
      status: 500,
      body: `<pre>\n${req.body.toString('utf8')}\n</pre>`,
    }));
    const final = await endpoint(tenant, { url: echo400.url, retryPolicy: { ...FAST, maximumAttempts: 1 } });
    const retried = await endpoint(tenant, { url: echo500.url, retryPolicy: { ...FAST, maximumAttempts: 2 } });

    const { result } = await publish(tenant, 'echo1');

    assert.equal(result.status, 'failed');
    assert.equal(echo400.requests.length, 1);
    assert.equal(echo500.requests.length, 2);
    const dead = await stack.api('GET', `/v1/tenants/${tenant}/dead-letters`);
    const lastErrors = Object.fromEntries(
      (dead.body.items as { endpointId: string; lastError: string }[]).map((d) => [d.endpointId, d.lastError]),
    );
    assert.deepEqual(lastErrors, {
      [final]: 'HTTP 400 (http_400); gave up after 1 attempt',
      [retried]: 'HTTP 500 (http_500); gave up after 2 attempts',
    });
    assert.ok(
      workerLines.some((l) => l.includes('will retry') && l.includes(retried)),
      'the retry is logged (without the body)',
    );

    // The tenant still sees what its servers answered.
    const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/echo1`);
    assert.equal(view.status, 200, JSON.stringify(view.body));
    const byEndpoint = Object.fromEntries(
      (view.body.endpoints as { endpointId: string; attempts: { responseBodyExcerpt?: string }[] }[]).map((e) => [
        e.endpointId,
        e.attempts.map((a) => a.responseBodyExcerpt ?? ''),
      ]),
    );
    assert.equal(byEndpoint[final]?.length, 1);
    assert.ok(byEndpoint[final]?.[0]?.includes(`"card":"${CARD}"`), JSON.stringify(byEndpoint));
    assert.equal(byEndpoint[retried]?.length, 2);
    assert.ok(byEndpoint[retried]?.every((excerpt) => excerpt.startsWith('<pre>') && excerpt.includes(SSN)));
    for (const e of view.body.endpoints as { lastError?: string }[]) assert.deepEqual(leaks(e.lastError ?? ''), []);

    await assertNothingLeaked(workflowIdOf(tenant, 'echo1'));
  });

  it('names a $error or $assert whose message the transform computed from the event, without the message', async () => {
    const tenant = uniqueName('tf');
    const hook = await receivers.start();
    const transforms = {
      error: [
        '$error(data.card)',
        'transform: $error() was called with a message computed from the event (not shown) at position 7 [D3137]',
      ],
      assert: [
        '$assert(false, data.ssn)',
        'transform: $assert() failed with a message computed from the event (not shown) at position 8 [D3141]',
      ],
      concat: [
        '$error("bad card " & data.card)',
        'transform: $error() was called with a message computed from the event (not shown) at position 7 [D3137]',
      ],
      chained: [
        'data.ssn ~> $error()',
        'transform: $error() was called with a message computed from the event (not shown) at position 19 [D3137]',
      ],
      literal: ['$error("cards are not accepted")', 'transform: cards are not accepted at position 7 [D3137]'],
    } as const;
    const ids: Record<string, string> = {};
    for (const [name, [transform, reason]] of Object.entries(transforms)) {
      ids[name] = await endpoint(tenant, { url: hook.url, transform });
      // The dry run gives the same reason, to the tenant, without the message either.
      const dry = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${ids[name]}/test`, {
        type: 'card.checked',
        data: JSON.parse(DATA),
      });
      assert.equal(dry.status, 422, JSON.stringify(dry.body));
      assert.equal(dry.body.error.code, 'transform_failed');
      assert.equal(dry.body.error.message, reason);
    }

    const { result } = await publish(tenant, 'tf1');

    assert.equal(result.status, 'failed');
    assert.equal(hook.requests.length, 0);
    const dead = await stack.api('GET', `/v1/tenants/${tenant}/dead-letters`);
    const lastErrors = Object.fromEntries(
      (dead.body.items as { endpointId: string; lastError: string }[]).map((d) => [d.endpointId, d.lastError]),
    );
    for (const [name, [, reason]] of Object.entries(transforms)) assert.equal(lastErrors[ids[name]!], reason);
    for (const d of result.deliveries as { endpointId: string; lastError?: string }[]) {
      assert.match(d.lastError ?? '', /^transform_failed: transform: /);
    }
    assert.ok(
      workerLines.some((l) => l.includes('delivery failed') && l.includes('transform_failed')),
      'the failure is logged (without the message)',
    );

    await assertNothingLeaked(workflowIdOf(tenant, 'tf1'));
  });

  it("writes one JSON line per log entry, the Temporal SDK's included, without task tokens or error stacks", () => {
    // The tests above made activities fail: the SDK logs each failed activity at WARN.
    assert.ok(workerLines.length > 0);
    const entries = workerLines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        assert.fail(`not a JSON line: ${line}`);
      }
    });
    const sdk = entries.filter((e) => e['msg'] === 'Activity failed');
    assert.ok(sdk.length > 0, "the SDK's own log entries go through the service's logger");
    for (const line of workerLines) {
      assert.ok(!/taskToken/i.test(line), `a task token in: ${line}`);
      assert.ok(!/\n\s+at /.test(line) && !line.includes('    at '), `a stack in: ${line}`);
    }
    for (const e of sdk) {
      assert.equal(e['level'], 'warn');
      assert.equal(typeof e['workflowId'], 'string');
      assert.ok(workflowIds.includes(e['workflowId'] as string), JSON.stringify(e));
    }
  });
});
