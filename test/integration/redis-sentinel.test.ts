import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/infra/config';
import { createRedisClient } from '../../src/infra/redis';
import { receiverPool } from '../support/receiver';
import { deliveredEventIds, deliverThroughStack, registerEndpoint } from '../support/redis-event-path';
import type { SentinelGroup } from '../support/redis-servers';
import { redisCli, startSentinelGroup } from '../support/redis-servers';
import { uniqueName, waitFor } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/** Events published in the failover test; the failover is asked for after the first third. */
const EVENTS = 60;

/**
 * Issue 13's "Redis Sentinel": every role finds the master through three sentinels, and a failover in the middle
 * of a stream of deliveries loses no event.
 */
describe('Redis through Sentinel, with a failover during deliveries', () => {
  let group: SentinelGroup;
  let stack: TestStack;
  const receivers = receiverPool();

  const sentinelEnv = (): Record<string, string | undefined> => ({
    REDIS_URL: undefined,
    REDIS_SENTINELS: group.sentinelList,
    REDIS_SENTINEL_MASTER: group.masterName,
    // The payload the consumer stores must be on the replica before its workflow starts: otherwise a failover
    // right after the write could lose it under a running delivery.
    REDIS_WAIT_REPLICAS: '1',
  });

  before(async () => {
    group = await startSentinelGroup('wss-master', 1);
    stack = await startStack({ env: sentinelEnv() });
  });
  after(async () => {
    await receivers.closeAll();
    await stack?.stop();
    await group?.stop();
  });

  it('runs the whole event path through the master the sentinels name', async () => {
    await deliverThroughStack(stack, await receivers.start(), uniqueName('sentinel'), 3);
    // Our keys are on the master the sentinels report, and replicated.
    const master = await group.masterPort();
    assert.ok(Number(await redisCli(master, 'EXISTS', stack.config.WSS_STREAM)) === 1);
  });

  it('loses no event when the master fails over in the middle of the deliveries', async () => {
    const tenant = uniqueName('failover');
    const receiver = await receivers.start();
    const endpoint = await registerEndpoint(stack, tenant, receiver.url);
    const firstMaster = await group.masterPort();

    // A producer as the README asks for under Sentinel: XADD, then WAIT for the replica; no answer (or fewer
    // replicas than asked) means "not acknowledged", and the same event is published again.
    const producer = createRedisClient(loadConfig({}, sentinelEnv()).redis, 'test-producer');
    let retries = 0;
    const publish = async (id: string): Promise<void> => {
      for (let attempt = 0; attempt < 200; attempt++) {
        try {
          await producer.xadd(
            stack.config.WSS_STREAM,
            '*',
            'tenant',
            tenant,
            'type',
            'order.paid',
            'data',
            '{}',
            'id',
            id,
          );
          if ((await producer.wait(1, 2000)) >= 1) return;
        } catch {
          // The master went away mid-command: publish again.
        }
        retries++;
        await sleep(100);
      }
      throw new Error(`${id} was never acknowledged`);
    };
    const published: string[] = [];
    try {
      for (let i = 0; i < EVENTS; i++) {
        if (i === EVENTS / 3) {
          assert.equal(await redisCli(group.sentinels[0]!.port, 'SENTINEL', 'FAILOVER', group.masterName), 'OK');
        }
        const id = `evt-${i}`;
        await publish(id);
        published.push(id);
        await sleep(50);
      }
    } finally {
      producer.disconnect();
    }

    const newMaster = await waitFor('a new master', async () => {
      const port = await group.masterPort();
      return port !== firstMaster ? port : undefined;
    });
    assert.notEqual(newMaster, firstMaster);
    await waitFor(
      `${EVENTS} distinct events delivered`,
      () => deliveredEventIds(receiver, endpoint.secret).size >= EVENTS,
      120_000,
      250,
    );
    // Some slack for a delivery that should not come.
    await sleep(1000);
    const delivered = deliveredEventIds(receiver, endpoint.secret);
    assert.deepEqual([...delivered].sort(), [...published].sort());
    // The failover did happen under load: the stack kept working on the new master.
    assert.ok(Number(await redisCli(newMaster, 'XLEN', stack.config.WSS_STREAM)) >= EVENTS);
    console.log(
      `sentinel failover: ${EVENTS} events, ${delivered.size} delivered, ${receiver.requests.length} requests, ${retries} producer retries`,
    );
  });
});
