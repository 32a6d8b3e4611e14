import { setTimeout as sleep } from 'node:timers/promises';
import { readProc } from '../bench/proc-sampler';
import { mean } from '../bench/stats';
import { countDuplicates, settleAndCheck } from './checker';
import type { ScenarioResult, ScenarioSpec } from './checker';
import { Generator } from './generator';
import type { ReceiverMode } from './receiver';
import { ROLES } from './roles';
import type { RoleName } from './roles';
import { jitterSleep } from './world';
import type { World } from './world';

/**
 * The soak: a steady load for N minutes with a random nemesis, then the same checker as the chaos run. Faults that
 * destroy data (an empty Redis, a trim) are left out: the soak asks whether anything is lost while the data
 * survives. Memory: RSS of every process every 5 s; trend = mean RSS over the last third of the samples ÷ the
 * first third (a process restarted by a fault starts a new series, so the trend is over samples of whatever
 * process holds the role).
 */

const RATE_PER_SECOND = 8;
/** Seconds between faults (random in this range), so each fault's recovery is mostly over before the next. */
const FAULT_GAP_S: readonly [number, number] = [40, 80];

type Fault = { name: string; run: (world: World) => Promise<void> };

const kill = (roles: readonly RoleName[]): Fault => ({
  name: `SIGKILL ${roles.join('+')}`,
  run: async (world) => {
    await Promise.all(roles.map((r) => world.roles.kill(r)));
    await jitterSleep(500, 2000);
    for (const r of ['worker', 'consumer', 'api'] as const) if (roles.includes(r)) await world.roles.start(r);
  },
});

const receiver = (mode: ReceiverMode, ms: number): Fault => ({
  name: `receiver ${mode} ${ms / 1000} s`,
  run: async (world) => {
    await world.receiver.setMode(mode);
    await sleep(ms);
    await world.receiver.setMode('ok');
  },
});

const FAULTS: readonly Fault[] = [
  kill(['consumer']),
  kill(['worker']),
  kill(['api']),
  kill(['api', 'consumer', 'worker']),
  {
    name: 'SIGTERM worker',
    run: async (w) => {
      await w.roles.terminate('worker');
      await w.roles.start('worker');
    },
  },
  {
    name: 'redis SIGSTOP 15 s',
    run: async (w) => {
      w.redisServer.signal('SIGSTOP');
      await sleep(15_000);
      w.redisServer.signal('SIGCONT');
    },
  },
  {
    name: 'redis SIGKILL + restart (AOF)',
    run: async (w) => {
      await w.redisServer.kill();
      await sleep(2000);
      await w.redisServer.start();
    },
  },
  {
    name: 'temporal SIGKILL + restart',
    run: async (w) => {
      await w.temporalServer.kill();
      await sleep(3000);
      await w.temporalServer.start();
    },
  },
  {
    name: 'XGROUP DESTROY',
    run: async (w) => {
      await w.stores.redis.xgroup('DESTROY', w.stream, w.group);
    },
  },
  receiver('refuse', 20_000),
  receiver('error_5xx', 15_000),
  receiver('stall', 15_000),
];

type Process = RoleName | 'redis' | 'temporal';

export interface SoakOutcome {
  readonly report: Record<string, unknown>;
  readonly failures: string[];
}

export async function runSoak(world: World, minutes: number): Promise<SoakOutcome> {
  const name = 'soak';
  const tenant = 'c-soak';
  await world.provisionTenant(tenant);
  const gen = new Generator(world);
  const spec: ScenarioSpec = {
    name,
    description: `steady ${RATE_PER_SECOND} events/s for ${minutes} min, random faults`,
  };
  const events = Math.round(minutes * 60 * RATE_PER_SECOND);
  const rss = new Map<Process, { at: number; mb: number }[]>();
  let publishing = true;
  const sampler = (async () => {
    while (publishing) {
      const pids: [Process, number | undefined][] = [
        ...ROLES.map((r): [Process, number | undefined] => [
          r,
          world.roles.running(r) ? world.roles.pid(r) : undefined,
        ]),
        ['redis', world.redisServer.pid],
        ['temporal', world.temporalServer.pid],
      ];
      for (const [p, pid] of pids) {
        const reading = pid !== undefined ? readProc(pid) : undefined;
        if (reading) rss.set(p, [...(rss.get(p) ?? []), { at: reading.at, mb: reading.rssMb }]);
      }
      await sleep(5000);
    }
  })();
  const faultsApplied: string[] = [];
  const nemesis = (async () => {
    for (;;) {
      await jitterSleep(FAULT_GAP_S[0] * 1000, FAULT_GAP_S[1] * 1000);
      if (!publishing) return;
      const fault = FAULTS[Math.floor(Math.random() * FAULTS.length)] as Fault;
      console.log(`[soak] ${new Date().toISOString()} ${fault.name}`);
      faultsApplied.push(fault.name);
      await world.fault(name, fault.name, () => fault.run(world));
    }
  })().catch((err: unknown) => world.errors.push(`soak nemesis: ${err instanceof Error ? err.stack : String(err)}`));
  console.log(`[soak] ${events} events at ${RATE_PER_SECOND}/s over ${minutes} min`);
  await gen.run(name, tenant, events, RATE_PER_SECOND, Math.max(2, Math.round(minutes)));
  publishing = false;
  await nemesis;
  await sampler;
  for (const role of ROLES) if (!world.roles.running(role)) await world.roles.start(role);
  const result: ScenarioResult = await settleAndCheck(world, gen, spec, tenant, Date.now());
  countDuplicates(world, [result], gen);

  const memory: Record<string, unknown> = {};
  for (const [p, samples] of rss) {
    const third = Math.max(1, Math.floor(samples.length / 3));
    const first = mean(samples.slice(0, third).map((s) => s.mb));
    const last = mean(samples.slice(-third).map((s) => s.mb));
    memory[p] = {
      samples: samples.length,
      firstThirdMb: Math.round(first),
      lastThirdMb: Math.round(last),
      peakMb: Math.round(Math.max(...samples.map((s) => s.mb))),
      trend: Math.round((last / first) * 1000) / 1000,
    };
  }
  const failures: string[] = [...gen.failures, ...result.problems];
  if (result.lost > 0) failures.push(`soak: ${result.lost} lost: ${result.lostIds.slice(0, 20).join(', ')}`);
  for (const d of result.duplicateEvents) {
    if (d.windows.length === 0) failures.push(`soak: duplicate of ${d.eventId} outside every fault window`);
  }
  const summary = {
    events: result.events,
    delivered: result.delivered,
    deadLettered: result.deadLettered,
    lost: result.lost,
    duplicates: result.duplicates,
    longestRecoveryS: result.recoveryS,
    firstAttemptMs: result.firstAttemptMs,
    faults: faultsApplied.length,
  };
  console.log(`[soak] ${JSON.stringify(summary)}`);
  console.log(`[soak] RSS (MB, first third → last third, trend): ${JSON.stringify(memory)}`);
  return {
    report: { summary, memory, faultsApplied, result, faultWindows: world.windows },
    failures,
  };
}
