import { rmSync } from 'node:fs';
import { countDuplicates, settleAndCheck } from './checker';
import type { ScenarioResult, ScenarioSpec } from './checker';
import { Generator } from './generator';
import { TABLE_HEADER, formatPlain, machine, scenarioTable, writeResults } from './report';
import { SCENARIOS } from './scenarios';
import type { ScenarioContext } from './scenarios';
import { runSoak } from './soak';
import { CHAOS_SETTINGS, World } from './world';

/**
 * `npm run chaos [-- --quick] [-- --only a,b]` and `npm run soak -- --minutes N`: see chaos/README.md.
 *
 * Exits 1 on a lost event where the data still exists, a destroyed count that does not match what the store
 * destroyed, a duplicate outside every fault window, an event that waited in silence, a bad signature, a role that
 * died by itself, or any error of the harness. Never on how long anything took.
 */

interface Args {
  quick: boolean;
  only: string[] | undefined;
  soak: boolean;
  minutes: number;
  keep: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, only: undefined, soak: false, minutes: 30, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--soak') args.soak = true;
    else if (a === '--keep') args.keep = true;
    else if (a === '--only') args.only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--minutes') {
      args.minutes = Number(argv[++i]);
      if (!Number.isFinite(args.minutes) || args.minutes <= 0 || args.minutes > 24 * 60) {
        throw new Error('--minutes takes a number of minutes between 0 and 1440');
      }
    } else
      throw new Error(
        `unknown argument ${a}; usage: chaos/run.ts [--quick] [--only a,b] [--soak --minutes N] [--keep]`,
      );
  }
  if (args.only) {
    const unknown = args.only.filter((name) => !SCENARIOS.some((s) => s.name === name));
    if (unknown.length > 0) {
      throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    }
  }
  return args;
}

/** Events per scenario and publishing rate: bounded by counts; the quick set is the CI smoke run. */
const LOAD = {
  quick: { events: 60, perSecond: 10 },
  full: { events: 150, perSecond: 12 },
};

async function runChaos(world: World, args: Args): Promise<{ results: ScenarioResult[]; failures: string[] }> {
  const selected = SCENARIOS.filter((s) => (args.only ? args.only.includes(s.name) : !args.quick || s.quick));
  const load = args.quick ? LOAD.quick : LOAD.full;
  const gen = new Generator(world);
  const results: ScenarioResult[] = [];
  for (const scenario of selected) {
    const tenant = `c-${scenario.name}`;
    await world.provisionTenant(tenant);
    const spec: ScenarioSpec = { name: scenario.name, description: scenario.description };
    const publishMs = (load.events / load.perSecond) * 1000;
    const ctx: ScenarioContext = {
      world,
      gen,
      spec,
      tenant,
      publishMs,
      fault: (name, fn) => world.fault(scenario.name, name, fn),
    };
    const started = Date.now();
    console.log(`[chaos] ${scenario.name}: ${scenario.description}`);
    const nemesis = scenario.nemesis(ctx).catch((err: unknown) => {
      world.errors.push(`${scenario.name}: nemesis failed: ${err instanceof Error ? err.stack : String(err)}`);
      gen.release();
    });
    await gen.run(scenario.name, tenant, load.events, load.perSecond);
    await nemesis;
    // Roles a fault left down (a failed restart) come back before the checker waits for them.
    for (const role of ['worker', 'consumer', 'api'] as const) {
      if (!world.roles.running(role)) await world.roles.start(role);
    }
    const result = await settleAndCheck(world, gen, spec, tenant, Date.now());
    results.push(result);
    console.log(
      `[chaos] ${scenario.name}: ${result.events} events, ${result.delivered} delivered, ${result.deadLettered} dead-lettered, ` +
        `${result.destroyed} destroyed, ${result.lost} lost (${Math.round((Date.now() - started) / 1000)} s)` +
        (result.problems.length ? `\n  problems: ${result.problems.join('; ')}` : ''),
    );
  }
  countDuplicates(world, results, gen);
  const failures: string[] = [];
  for (const r of results) {
    if (r.lost > 0) {
      failures.push(`${r.name}: ${r.lost} lost: ${r.lostIds.slice(0, 20).join(', ')}`);
      for (const [id, lines] of Object.entries(r.lostEvidence)) {
        failures.push(`  ${id}:\n    ${lines.join('\n    ') || '(no log line mentions it)'}`);
      }
    }
    for (const p of r.problems) failures.push(`${r.name}: ${p}`);
    for (const d of r.duplicateEvents) {
      if (d.windows.length === 0) failures.push(`${r.name}: duplicate of ${d.eventId} outside every fault window`);
    }
  }
  failures.push(...gen.failures);
  return { results, failures };
}

/** Clock scenarios: what the receiver saw of the worker's timestamps. */
function clockNotes(world: World, results: readonly ScenarioResult[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of results.filter((x) => x.name.startsWith('clock-'))) {
    const skews: number[] = [];
    for (const [eventId, ledger] of world.receiver.events) {
      if (!eventId.includes(`.${r.name}.`)) continue;
      for (const req of ledger.requests) if (req.timestampSkewS !== undefined) skews.push(req.timestampSkewS);
    }
    skews.sort((a, b) => a - b);
    out[r.name] = {
      requests: skews.length,
      timestampSkewS: { min: skews[0], median: skews[Math.floor(skews.length / 2)], max: skews[skews.length - 1] },
    };
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  console.log('[chaos] starting Redis, the Temporal dev server and the three roles');
  const world = await World.create();
  console.log(`[chaos] logs and data: ${world.dir}`);
  let failed = true;
  try {
    if (args.soak) {
      const soak = await runSoak(world, args.minutes);
      const failures = [...soak.failures, ...commonFailures(world)];
      const file = writeResults('soak', {
        kind: 'soak',
        startedAt: startedAt.toISOString(),
        minutes: args.minutes,
        machine: machine(),
        settings: CHAOS_SETTINGS,
        ...soak.report,
        failures,
      });
      console.log(`\n[chaos] results: ${file}`);
      failed = failures.length > 0;
      if (failed) console.error(`\n[chaos] FAILED:\n${failures.join('\n')}`);
      return;
    }
    const { results, failures } = await runChaos(world, args);
    failures.push(...commonFailures(world));
    const rows = scenarioTable(results);
    console.log(`\n${formatPlain(TABLE_HEADER, rows)}`);
    const mode = args.only ? 'only' : args.quick ? 'quick' : 'full';
    const file = writeResults(mode, {
      kind: 'chaos',
      mode,
      startedAt: startedAt.toISOString(),
      durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
      machine: machine(),
      settings: CHAOS_SETTINGS,
      load: args.quick ? LOAD.quick : LOAD.full,
      clock: clockNotes(world, results),
      scenarios: results,
      faultWindows: world.windows,
      failures,
    });
    console.log(`\n[chaos] results: ${file}`);
    failed = failures.length > 0;
    if (failed) console.error(`\n[chaos] FAILED:\n${failures.join('\n')}`);
    else
      console.log(
        '[chaos] every event is delivered, dead-lettered with a reason, or destroyed by the store as counted',
      );
  } finally {
    await world.close();
    if (failed || args.keep) console.log(`[chaos] kept logs and data in ${world.dir}`);
    else rmSync(world.dir, { recursive: true, force: true });
    process.exitCode = failed ? 1 : 0;
  }
}

function commonFailures(world: World): string[] {
  return [
    ...world.errors,
    ...world.roles.unexpectedExits,
    ...world.receiver.badSignatures
      .slice(0, 20)
      .map((r) => `bad signature on ${r.eventId} at ${new Date(r.at).toISOString()}: ${r.signatureProblem}`),
  ];
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
