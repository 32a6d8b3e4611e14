import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ScenarioSpec } from './checker';
import type { Generator, PublishedEvent } from './generator';
import type { ReceiverMode } from './receiver';
import type { RoleName } from './roles';
import { ROLES } from './roles';
import { jitterSleep } from './world';
import type { World } from './world';

/**
 * The faults, one scenario each. A scenario publishes its own events (its own tenant) while its nemesis acts, then
 * the checker waits for every event to settle. Moments are random within the publishing window, so over runs the
 * kills land mid-start, mid-attempt and between a 2xx and the activity's completion; the worker scenario also
 * aims at the last two on purpose (on a request's arrival, right after a 2xx was sent).
 */

export interface ScenarioContext {
  readonly world: World;
  readonly gen: Generator;
  readonly spec: ScenarioSpec;
  readonly tenant: string;
  /** How long the generator publishes (ms), for placing faults inside it. */
  readonly publishMs: number;
  /** Records a named fault window around `fn`. */
  fault<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Part of `--quick` (the CI subset). */
  readonly quick: boolean;
  readonly nemesis: (ctx: ScenarioContext) => Promise<void>;
}

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

async function killAndRestart(ctx: ScenarioContext, roles: readonly RoleName[], label?: string): Promise<void> {
  await ctx.fault(label ?? `SIGKILL ${roles.join('+')}`, async () => {
    await Promise.all(roles.map((r) => ctx.world.roles.kill(r)));
    await jitterSleep(500, 2000);
    // The worker first, as after a node loss the pods come back in any order; readiness gates nothing here.
    for (const r of ['worker', 'consumer', 'api'] as const) if (roles.includes(r)) await ctx.world.roles.start(r);
  });
}

async function terminateAndRestart(ctx: ScenarioContext, role: RoleName): Promise<void> {
  await ctx.fault(`SIGTERM ${role}`, async () => {
    const { code } = await ctx.world.roles.terminate(role);
    if (code !== 0) ctx.world.errors.push(`${role} exited with code ${code} after SIGTERM (drain not clean)`);
    await ctx.world.roles.start(role);
  });
}

function randomMoment(ctx: ScenarioContext, from = 0.15, to = 0.7): Promise<void> {
  return jitterSleep(ctx.publishMs * from, ctx.publishMs * to);
}

async function receiverFault(ctx: ScenarioContext, mode: ReceiverMode, ms: number, label: string): Promise<void> {
  await randomMoment(ctx, 0.1, 0.4);
  await ctx.fault(label, async () => {
    await ctx.world.receiver.setMode(mode);
    await sleep(ms);
    await ctx.world.receiver.setMode('ok');
  });
}

/** Restarts the worker with its clock moved by `offset` (libfaketime, e.g. `+2.5m`), runs, and restores it. */
async function workerClock(ctx: ScenarioContext, offset: string): Promise<void> {
  if (!existsSync(LIBFAKETIME)) {
    throw new Error(
      `libfaketime is missing (${LIBFAKETIME}): apt-get install faketime (node scripts/bootstrap.mjs --test)`,
    );
  }
  const roles = ctx.world.roles;
  await ctx.fault(`worker clock ${offset}`, async () => {
    roles.extraEnv.set('worker', { LD_PRELOAD: LIBFAKETIME, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' });
    await roles.terminate('worker');
    await roles.start('worker');
    await sleep(ctx.publishMs);
  });
  roles.extraEnv.delete('worker');
  await roles.terminate('worker');
  await roles.start('worker');
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'baseline',
    description: 'No fault: the figures every other scenario compares with',
    quick: true,
    nemesis: async () => {},
  },
  {
    name: 'kill-consumer',
    description: 'SIGKILL of the consumer at 2 random moments, restarted after 0.5-2 s',
    quick: true,
    async nemesis(ctx) {
      await randomMoment(ctx, 0.1, 0.35);
      await killAndRestart(ctx, ['consumer']);
      await randomMoment(ctx, 0.05, 0.3);
      await killAndRestart(ctx, ['consumer']);
    },
  },
  {
    name: 'kill-worker',
    description:
      'SIGKILL of the worker: at a random moment, mid-attempt (a request has arrived), and right after a 2xx was sent',
    quick: true,
    async nemesis(ctx) {
      const receiver = ctx.world.receiver;
      await randomMoment(ctx, 0.05, 0.2);
      await killAndRestart(ctx, ['worker'], 'SIGKILL worker (random moment)');
      await new Promise<void>((resolve) => {
        receiver.onArrival = async () => {
          receiver.onArrival = undefined;
          await ctx.fault('SIGKILL worker (mid-attempt)', () => ctx.world.roles.kill('worker'));
          resolve();
        };
      });
      await ctx.fault('worker restart', () => ctx.world.roles.start('worker'));
      await new Promise<void>((resolve) => {
        receiver.afterOk = () => {
          receiver.afterOk = undefined;
          void ctx.fault('SIGKILL worker (after a 2xx)', () => ctx.world.roles.kill('worker')).then(() => resolve());
        };
      });
      await ctx.fault('worker restart', () => ctx.world.roles.start('worker'));
    },
  },
  {
    name: 'kill-api',
    description: 'SIGKILL of the API while half the events are published through it',
    quick: true,
    async nemesis(ctx) {
      await randomMoment(ctx);
      await killAndRestart(ctx, ['api']);
    },
  },
  {
    name: 'kill-all',
    description: 'SIGKILL of API, consumer and worker together',
    quick: true,
    async nemesis(ctx) {
      await randomMoment(ctx);
      await killAndRestart(ctx, ROLES);
    },
  },
  {
    name: 'group-destroyed',
    description: 'XGROUP DESTROY of the consumer group under load',
    quick: true,
    async nemesis(ctx) {
      await randomMoment(ctx);
      await ctx.fault('XGROUP DESTROY', async () => {
        await ctx.world.stores.redis.xgroup('DESTROY', ctx.world.stream, ctx.world.group);
      });
    },
  },
  ...ROLES.map((role): Scenario => ({
    name: `term-${role}`,
    description: `SIGTERM of the ${role} (graceful drain), restarted`,
    quick: false,
    async nemesis(ctx) {
      await randomMoment(ctx);
      await terminateAndRestart(ctx, role);
    },
  })),
  {
    name: 'temporal-kill',
    description: 'SIGKILL of the Temporal dev server, restarted on the same database file after 3 s',
    quick: false,
    async nemesis(ctx) {
      await randomMoment(ctx);
      await ctx.fault('SIGKILL temporal + restart', async () => {
        await ctx.world.temporalServer.kill();
        await sleep(3000);
        await ctx.world.temporalServer.start();
      });
    },
  },
  {
    name: 'redis-pause',
    description: 'Redis SIGSTOP for 15 s, then SIGCONT',
    quick: false,
    async nemesis(ctx) {
      await randomMoment(ctx, 0.1, 0.3);
      await ctx.fault('redis SIGSTOP 15 s', async () => {
        ctx.world.redisServer.signal('SIGSTOP');
        await sleep(15_000);
        ctx.world.redisServer.signal('SIGCONT');
      });
    },
  },
  {
    name: 'redis-restart-aof',
    description: 'Redis SIGKILL and restart on its AOF (appendfsync everysec)',
    quick: false,
    async nemesis(ctx) {
      await randomMoment(ctx);
      await ctx.fault('redis SIGKILL + restart (AOF)', async () => {
        await ctx.world.redisServer.kill();
        await sleep(2000);
        await ctx.world.redisServer.start();
      });
    },
  },
  {
    name: 'redis-empty',
    description:
      'Redis SIGKILL and restart with no persistence: stream, group, payloads, endpoints gone; the operator restores tenants and endpoints, then publishing resumes',
    quick: false,
    async nemesis(ctx) {
      await randomMoment(ctx, 0.3, 0.5);
      await ctx.fault('redis restarted empty', async () => {
        ctx.gen.hold();
        const wipedAt = Date.now();
        await ctx.world.redisServer.kill();
        // Everything Redis acknowledged before this moment is destroyed by the store.
        ctx.spec.destroyed = (e: PublishedEvent) => e.xaddAt <= wipedAt;
        await ctx.world.redisServer.startEmpty();
        await ctx.world.reprovision([ctx.tenant]);
        ctx.gen.release();
      });
    },
  },
  {
    name: 'stream-trimmed',
    description:
      'MAXLEN trim of entries pending on a consumer that died (read, not acked); the surviving consumer must count them',
    quick: false,
    async nemesis(ctx) {
      const { world, gen } = ctx;
      await randomMoment(ctx, 0.2, 0.4);
      await ctx.fault('stream trimmed under pending entries', async () => {
        gen.hold();
        await world.roles.terminate('consumer');
        await gen.burstUngated(ctx.spec.name, ctx.tenant, 100_000, 20);
        // A consumer that read everything unread (the burst last) and died before starting the deliveries.
        const reply = (await world.stores.redis.xreadgroup(
          'GROUP',
          world.group,
          'chaos-ghost',
          'COUNT',
          10_000,
          'STREAMS',
          world.stream,
          '>',
        )) as [string, [string, string[]][]][] | null;
        const read = (reply?.[0]?.[1] ?? []).map(([id]) => id);
        // Keep the newest 5 entries: the ghost's last 5 survive; the rest it holds (and everything older) go.
        const trimmedIds = new Set(read.slice(0, Math.max(0, read.length - 5)));
        await world.stores.redis.xtrim(world.stream, 'MAXLEN', 5);
        const trimmed = new Set(gen.published.filter((e) => trimmedIds.has(e.entryId)).map((e) => e.eventId));
        ctx.spec.destroyed = (e) => trimmed.has(e.eventId);
        ctx.spec.serviceCounted = async () => {
          for (let i = 0; i < 60; i++) {
            const page = await world.roles.scrape('consumer');
            const n = page?.sum('wss_consumer_entries_trimmed_total') ?? 0;
            if (n >= trimmedIds.size) {
              return { what: 'wss_consumer_entries_trimmed_total', count: n, expected: trimmedIds.size };
            }
            await sleep(1000);
          }
          const page = await world.roles.scrape('consumer');
          return {
            what: 'wss_consumer_entries_trimmed_total',
            count: page?.sum('wss_consumer_entries_trimmed_total') ?? 0,
            expected: trimmedIds.size,
          };
        };
        await world.roles.start('consumer');
        gen.release();
      });
    },
  },
  {
    name: 'receiver-refuses',
    description: 'The receiver refuses connections (port closed) for 30 s',
    quick: false,
    nemesis: (ctx) => receiverFault(ctx, 'refuse', 30_000, 'receiver refuses 30 s'),
  },
  {
    name: 'receiver-stalls',
    description: 'The receiver reads requests and never answers, past the 3 s deadline, for 20 s',
    quick: false,
    nemesis: (ctx) => receiverFault(ctx, 'stall', 20_000, 'receiver stalls 20 s'),
  },
  {
    name: 'receiver-5xx',
    description: 'The receiver answers 500 for 20 s',
    quick: false,
    nemesis: (ctx) => receiverFault(ctx, 'error_5xx', 20_000, 'receiver 500 for 20 s'),
  },
  {
    name: 'receiver-200-reset',
    description: 'The receiver sends 200 headers, then resets the connection, for 15 s',
    quick: false,
    nemesis: (ctx) => receiverFault(ctx, 'ok_then_reset', 15_000, 'receiver 200 then reset 15 s'),
  },
  {
    name: 'clock-ahead',
    description: "The worker's clock 2.5 min ahead (libfaketime), within the receivers' ±5 min window",
    quick: false,
    nemesis: (ctx) => workerClock(ctx, '+2.5m'),
  },
  {
    name: 'clock-behind',
    description: "The worker's clock 2.5 min behind (libfaketime), within the receivers' ±5 min window",
    quick: false,
    nemesis: (ctx) => workerClock(ctx, '-2.5m'),
  },
];
