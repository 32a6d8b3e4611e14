/**
 * `npm run bench [-- --quick]`: the whole performance report in one run, against the ephemeral Redis and Temporal
 * dev server that scripts/local-stack.mjs starts. See bench/README.md for what every figure means.
 *
 * Flags (after `--`):
 *   --quick                  short durations and a 2,000-event drain (< 2 min on a quiet machine; the CI smoke run)
 *   --worker-options '<json>'  run the delivery worker from bench/delivery-worker.ts with these WorkerOptions
 *                            (tuning experiments; the floor worker gets them too)
 *   --consumer-env 'K=V,...' extra WSS_CONSUMER_* settings for the consumer (tuning experiments)
 *   --label <name>           suffix of the result files, for experiments
 *   --full-drain             drain all 20,000 (quick: 2,000) events even when that takes longer than 10 minutes
 *   --soak <seconds>         only a constant-load soak (1 endpoint), window by window: throughput and RSS trend
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { TenantId } from '../src/domain/ids';
import { deliveryWorkflowId, parseEventId, parseTenantId } from '../src/domain/ids';
import type { Config } from '../src/infra/config';
import { loadConfig } from '../src/infra/config';
import { connectTemporalClient } from '../src/infra/temporal';
import type { Stores } from '../src/main/services';
import { createStores } from '../src/main/services';
import { generateWssSecret } from '../src/security/signature';
import {
  DeliveryStatusKey,
  EndpointIdKey,
  EventIdKey,
  EventTypeKey,
  TenantIdKey,
} from '../src/delivery/search-attributes';
import type { BenchChild } from './children';
import { startChild } from './children';
import { runFilterTransformBench } from './filter-transform';
import type { FloorReport } from './floor-worker';
import type { HistoryCost } from './history-cost';
import { measureHistoryCost } from './history-cost';
import { cpuPercent, cpuSecondsPer, findPid, ProcSampler } from './proc-sampler';
import { readProcTree } from './proc-tree';
import type { BenchReceiver, PhaseTally } from './receiver';
import { startBenchReceiver } from './receiver';
import { commandCalls, commandsPerEvent } from './redis-stats';
import type { ResultRow } from './report';
import { formatMarkdown, formatTable } from './report';
import type { LatencySummary } from './stats';
import { mean, round, summarizeLatency } from './stats';

/**
 * A failure of the run itself (a child process failed, an event was dead-lettered or lost, the harness hung): the run
 * exits non-zero. A slow machine is never one: every wait is for a count, and time limits are hang guards only.
 */
class HarnessError extends Error {
  override readonly name = 'HarnessError';
}

/** A wait whose count stopped moving for `Profile.stallMs`: what is missing is lost or stuck. */
class StallError extends HarnessError {}

interface Profile {
  readonly warmupMs: number;
  readonly throughputMs: number;
  readonly rawMs: number;
  readonly floorWarmupMs: number;
  readonly floorMs: number;
  readonly latencyWarmupMs: number;
  readonly latencyMs: number;
  /** Events queued for the drain test, unless that would take longer than `drainBudgetMs` at the measured rate. */
  readonly drainEvents: number;
  readonly drainBudgetMs: number;
  readonly floorConcurrency: readonly number[];
  readonly historySample: number;
  readonly filterMs: number;
  /**
   * Hang guard of every wait for a count (deliveries, finished workflows, a child's start): it fails only when the
   * count has not moved for this long. Far above any pause a loaded machine causes (deliveries arrive every few
   * hundred ms even at 3 deliveries/s), so it reports a hang, never slowness.
   */
  readonly stallMs: number;
  /** Hang guard of the whole run (exit 1, reported as a hang): many times the longest run seen on a loaded machine. */
  readonly hangGuardMs: number;
}

const PROFILES: Record<'default' | 'quick', Profile> = {
  default: {
    warmupMs: 4000,
    throughputMs: 20_000,
    rawMs: 8000,
    floorWarmupMs: 2000,
    floorMs: 8000,
    latencyWarmupMs: 2000,
    latencyMs: 12_000,
    drainEvents: 20_000,
    drainBudgetMs: 200_000,
    historySample: 40,
    filterMs: 1000,
    stallMs: 600_000,
    hangGuardMs: 5_400_000,
    floorConcurrency: [16, 64, 128],
  },
  quick: {
    warmupMs: 1000,
    throughputMs: 4000,
    rawMs: 2000,
    floorWarmupMs: 1000,
    floorMs: 2500,
    latencyWarmupMs: 1000,
    latencyMs: 3000,
    drainEvents: 2000,
    drainBudgetMs: 15_000,
    historySample: 10,
    filterMs: 300,
    stallMs: 600_000,
    hangGuardMs: 1_800_000,
    floorConcurrency: [16, 64],
  },
};

const RAW_CONCURRENCY = 32;
const LOAD_LEVELS = [0.25, 0.5, 0.8] as const;
const FAN_OUT = 5;
/**
 * Deliveries the closed-loop producer keeps in flight (XADDed but not yet delivered). Above what the pipeline needs
 * to saturate (the best floor concurrency is 16 workflows) but small, so a phase settles in a few seconds.
 */
const PIPELINE_WINDOW_DELIVERIES = 128;
/** Upper bound of events one phase may produce, whatever the rate. */
const MAX_EVENTS_PER_PHASE = 200_000;
const EVENT_TYPE = 'order.created';

interface Args {
  readonly mode: 'default' | 'quick';
  readonly workerOptions?: string;
  readonly consumerEnv: Record<string, string>;
  readonly label?: string;
  /** Start-up, floor and the two throughput phases only (tuning experiments). */
  readonly throughputOnly: boolean;
  /** `status`: floor workflows carry the delivery workflow's search attributes and upsert a status at the end. */
  readonly floorVariant: 'plain' | 'status';
  /** Drain the full event count instead of what fits the time budget. */
  readonly fullDrain: boolean;
  /** Run only a constant-load soak of this many seconds (memory trend). */
  readonly soakSeconds?: number;
  /** A/B experiment: only start-up and then the 1-endpoint closed loop once per worker variant per round. */
  readonly ab?: readonly string[];
  readonly rounds: number;
}

/**
 * Worker variants of `--ab`, each run by bench/delivery-worker.ts (the real `createDeliveryWorker`). `opts=<json>`
 * merges WorkerOptions; `env=K=V+K=V` sets service variables of the worker.
 */
const AB_VARIANTS: Record<string, Record<string, string>> = {
  base: {},
  otel: { BENCH_WORKFLOW_INTERCEPTORS: 'on' },
  'no-heartbeat': { BENCH_NO_HEARTBEAT: '1' },
  wft16: { WSS_WORKER_WORKFLOW_TASKS: '16' },
  wft40: { WSS_WORKER_WORKFLOW_TASKS: '40' },
};

function abVariantEnv(variant: string): Record<string, string> {
  if (variant.startsWith('opts=')) return { BENCH_WORKER_OPTIONS: variant.slice('opts='.length) };
  if (variant.startsWith('env=')) {
    const env: Record<string, string> = {};
    for (const pair of variant.slice('env='.length).split('+')) {
      const [k, v] = pair.split('=');
      if (!k || v === undefined || !/^WSS_[A-Z_]+$/.test(k)) throw new HarnessError(`bad --ab env entry "${pair}"`);
      env[k] = v;
    }
    return env;
  }
  const env = AB_VARIANTS[variant];
  if (env === undefined)
    throw new HarnessError(`unknown --ab variant ${variant}: ${Object.keys(AB_VARIANTS).join(', ')}, opts=, env=`);
  return env;
}

function parseArgs(argv: readonly string[]): Args {
  let mode: Args['mode'] = 'default';
  let workerOptions: string | undefined;
  let label: string | undefined;
  let throughputOnly = false;
  let fullDrain = false;
  let soakSeconds: number | undefined;
  let floorVariant: Args['floorVariant'] = 'plain';
  let ab: string[] | undefined;
  let rounds = 2;
  const consumerEnv: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') mode = 'quick';
    else if (arg === '--worker-options') workerOptions = argv[++i];
    else if (arg === '--label') label = argv[++i];
    else if (arg === '--throughput-only') throughputOnly = true;
    else if (arg === '--full-drain') fullDrain = true;
    else if (arg === '--ab') {
      ab = (argv[++i] ?? '').split(';').filter(Boolean);
      for (const variant of ab) abVariantEnv(variant);
      if (ab.length === 0) throw new HarnessError('--ab takes variants separated by ";"');
    } else if (arg === '--rounds') {
      rounds = Number(argv[++i]);
      if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) throw new HarnessError('--rounds takes 1 to 10');
    } else if (arg === '--soak') {
      soakSeconds = Number(argv[++i]);
      if (!Number.isFinite(soakSeconds) || soakSeconds < 10 || soakSeconds > 3600)
        throw new HarnessError('--soak takes seconds, 10 to 3600');
    } else if (arg === '--floor-variant') {
      const v = argv[++i];
      if (v !== 'plain' && v !== 'status') throw new HarnessError('--floor-variant takes plain or status');
      floorVariant = v;
    } else if (arg === '--consumer-env') {
      for (const pair of (argv[++i] ?? '').split(',').filter(Boolean)) {
        const [k, v] = pair.split('=');
        if (!k || v === undefined || !k.startsWith('WSS_CONSUMER_'))
          throw new HarnessError(`bad --consumer-env entry "${pair}"`);
        consumerEnv[k] = v;
      }
    } else throw new HarnessError(`unknown argument ${arg}`);
  }
  if (workerOptions !== undefined) JSON.parse(workerOptions);
  return {
    mode,
    consumerEnv,
    throughputOnly,
    fullDrain,
    floorVariant,
    rounds,
    ...(ab !== undefined ? { ab } : {}),
    ...(soakSeconds !== undefined ? { soakSeconds } : {}),
    ...(workerOptions !== undefined ? { workerOptions } : {}),
    ...(label !== undefined ? { label } : {}),
  };
}

function minutes(ms: number): string {
  return `${round(ms / 60_000, 1)} min`;
}

interface Tenants {
  /** One endpoint. */
  readonly one: TenantId;
  /** FAN_OUT endpoints. */
  readonly fan: TenantId;
  /** One endpoint under /flaky (10% 503), short retry policy. */
  readonly flaky: TenantId;
}

class Bench {
  readonly rows: ResultRow[] = [];
  readonly details: Record<string, unknown> = {};
  readonly sampler = new ProcSampler(500);
  private readonly children = new Map<string, BenchChild>();
  /** Why the run must fail (a child process died): checked by every wait. */
  private childFailure: string | undefined;
  private readonly stopping = new Set<string>();
  /** Dead-letter streams of every consumer started: an entry there is an error. */
  private readonly deadLetterStreams = new Set<string>();
  private floorSentAt: number[] = [];
  private floorLatency: number[] = [];
  private floorDone = 0;

  constructor(
    readonly args: Args,
    readonly profile: Profile,
    readonly config: Config,
    readonly childEnv: NodeJS.ProcessEnv,
    readonly stores: Stores,
    readonly temporal: Client,
    readonly receiver: BenchReceiver,
    readonly tenants: Tenants,
    readonly logDir: string,
    readonly id: string,
  ) {}

  row(row: ResultRow): void {
    this.rows.push(row);
  }

  // ---- processes -------------------------------------------------------------------------------------------

  spawn(name: string, script: string, env: NodeJS.ProcessEnv, ipc = false): BenchChild {
    const child = startChild(name, script, env, this.logDir, ipc);
    this.children.set(name, child);
    this.sampler.track(name, child.pid);
    child.process.once('exit', (code, signal) => {
      if (this.children.get(name) === child && !this.stopping.has(name) && code !== 0) {
        console.error(`[bench] ${name} exited unexpectedly (code ${code}, signal ${signal})\n${child.tail()}`);
        this.childFailure ??= `${name} exited unexpectedly (code ${code}, signal ${signal}); log ${child.logFile}`;
      }
    });
    return child;
  }

  async stopChild(name: string): Promise<void> {
    const child = this.children.get(name);
    if (!child) return;
    this.stopping.add(name);
    await child.stop();
    this.children.delete(name);
    this.stopping.delete(name);
    this.sampler.untrack(name);
  }

  /** Throws when the run has already failed: a child process died, or the consumer dead-lettered an entry. */
  async assertHealthy(): Promise<void> {
    if (this.childFailure) throw new HarnessError(this.childFailure);
    for (const stream of this.deadLetterStreams) {
      const dead = await this.stores.redis.xlen(stream);
      if (dead > 0) throw new HarnessError(`${dead} entries were dead-lettered to ${stream}: see the consumer log`);
    }
  }

  /**
   * Waits until `count()` reaches `target`, however long a busy machine takes. Fails at once on an error
   * (`assertHealthy`), and with a StallError when the count has not moved for `profile.stallMs` (a hang guard).
   */
  async waitForCount(what: string, count: () => number, target: number): Promise<void> {
    let last = count();
    let movedAt = Date.now();
    let checkedAt = 0;
    while (count() < target) {
      const now = Date.now();
      if (count() !== last) {
        last = count();
        movedAt = now;
      }
      if (now - checkedAt >= 1000) {
        await this.assertHealthy();
        checkedAt = now;
      }
      if (now - movedAt > this.profile.stallMs) {
        throw new StallError(
          `HANG: ${what}: ${last} of ${target} after no progress for ${minutes(this.profile.stallMs)} (lost or stuck)`,
        );
      }
      await sleep(20);
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children.keys()].map((name) => this.stopChild(name)));
  }

  killAll(): void {
    for (const child of this.children.values()) child.process.kill('SIGKILL');
  }

  tails(): string {
    return [...this.children.values()].map((c) => `--- ${c.name} (${c.logFile})\n${c.tail()}`).join('\n');
  }

  /** The real worker entry point, or bench/delivery-worker.ts (the same wiring) with experiment settings. */
  startWorker(experiment?: Record<string, string>): BenchChild {
    const script =
      this.args.workerOptions !== undefined || experiment !== undefined
        ? 'bench/delivery-worker.ts'
        : 'src/main/worker.ts';
    return this.spawn('worker', script, {
      ...this.childEnv,
      ...(this.args.workerOptions !== undefined ? { BENCH_WORKER_OPTIONS: this.args.workerOptions } : {}),
      ...experiment,
    });
  }

  startConsumer(stream: string, consumerName: string): BenchChild {
    this.deadLetterStreams.add(`${stream}:dead`);
    return this.spawn('consumer', 'src/main/consumer.ts', {
      ...this.childEnv,
      ...this.args.consumerEnv,
      WSS_STREAM: stream,
      WSS_DEAD_LETTER_STREAM: `${stream}:dead`,
      WSS_CONSUMER_NAME: consumerName,
    });
  }

  /**
   * The all-in-one process that `npm start` runs (src/main/all-in-one.ts: worker, consumer and API, eager start),
   * on a stream, consumer group and task queue of its own, so nothing else takes its work.
   */
  startAllInOne(stream: string): BenchChild {
    this.deadLetterStreams.add(`${stream}:dead`);
    return this.spawn('all-in-one', 'src/main/all-in-one.ts', {
      ...this.childEnv,
      WSS_STREAM: stream,
      WSS_DEAD_LETTER_STREAM: `${stream}:dead`,
      WSS_CONSUMER_GROUP: `${this.id}-aio-group`,
      WSS_CONSUMER_NAME: `${this.id}-aio`,
      WSS_TASK_QUEUE: `${this.id}-aio-queue`,
      WSS_API_PORT: '0',
    });
  }

  async startFloorWorker(): Promise<void> {
    const child = this.spawn(
      'floor-worker',
      'bench/floor-worker.ts',
      {
        ...this.childEnv,
        BENCH_TASK_QUEUE: `${this.id}-floor`,
        ...(this.args.workerOptions !== undefined ? { BENCH_WORKER_OPTIONS: this.args.workerOptions } : {}),
      },
      true,
    );
    const ready = new Promise<void>((resolve) => {
      child.process.on('message', (message: FloorReport) => {
        if (message.type === 'ready') resolve();
        if (message.type === 'done') {
          this.floorDone += message.sentAt?.length ?? 0;
          this.floorSentAt.push(...(message.sentAt ?? []));
          this.floorLatency.push(...(message.latencyMs ?? []));
        }
      });
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new StallError(`HANG: the floor worker did not start within ${minutes(this.profile.stallMs)}`)),
          this.profile.stallMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  // ---- producers -------------------------------------------------------------------------------------------

  /** XADDs `count` events for `tenant` in one pipeline; each carries its XADD time as `data.sentAt`. */
  async xaddBatch(stream: string, tenant: string, count: number): Promise<string[]> {
    const pipeline = this.stores.redis.pipeline();
    const sentAt = Date.now();
    for (let i = 0; i < count; i++)
      pipeline.xadd(stream, '*', 'tenant', tenant, 'type', EVENT_TYPE, 'data', JSON.stringify({ sentAt }));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, id]) => {
      if (err) throw err;
      return String(id);
    });
  }

  /**
   * Closed loop: keeps PIPELINE_WINDOW events in flight (XADDed, not yet delivered to every endpoint), so the
   * stream backlog stays small and the rate settles at what the pipeline sustains. Counts deliveries (unique
   * event × endpoint 2xx answers) during `throughputMs` after `warmupMs`, then waits for everything to arrive. The
   * window is measured from when it actually opened, so a stalled event loop cannot skip it.
   */
  async closedLoop(
    name: string,
    tenant: string,
    fanOut: number,
    stream = this.config.WSS_STREAM,
  ): Promise<ThroughputResult> {
    const tally = this.receiver.startPhase();
    const { warmupMs, throughputMs } = this.profile;
    const redisBefore = await commandCalls(this.stores.redis);
    const started = Date.now();
    const measureFrom = started + warmupMs;
    let produced = 0;
    let window:
      { deliveries: number; attempts: number; at: number; cpu: ReturnType<ProcSampler['cpuMark']> } | undefined;

    while ((!window || Date.now() < window.at + throughputMs) && produced < MAX_EVENTS_PER_PHASE) {
      const inFlightEvents = Math.ceil((produced * fanOut - tally.delivered.size) / fanOut);
      const room = Math.ceil(PIPELINE_WINDOW_DELIVERIES / fanOut) - inFlightEvents;
      if (room > 0) {
        await this.xaddBatch(stream, tenant, Math.min(room, 64));
        produced += Math.min(room, 64);
      } else {
        await sleep(2);
      }
      if (!window && Date.now() >= measureFrom) {
        window = {
          deliveries: tally.delivered.size,
          attempts: tally.ok + tally.rejected,
          at: Date.now(),
          cpu: this.sampler.cpuMark(),
        };
      }
    }
    const end = {
      deliveries: tally.delivered.size,
      attempts: tally.ok + tally.rejected,
      at: Date.now(),
      cpu: this.sampler.cpuMark(),
    };
    await this.waitForCount(`${name}: deliveries`, () => tally.delivered.size, produced * fanOut);
    const redisAfter = await commandCalls(this.stores.redis);
    if (!window) throw new HarnessError(`${name}: the measuring window never started`);
    const seconds = (end.at - window.at) / 1000;
    return {
      name,
      produced,
      deliveriesPerSec: (end.deliveries - window.deliveries) / seconds,
      attemptsPerSec: (end.attempts - window.attempts) / seconds,
      cpu: cpuPercent(window.cpu, end.cpu),
      cpuPer1000: cpuSecondsPer(window.cpu, end.cpu, end.deliveries - window.deliveries),
      windowFrom: window.at,
      windowTo: end.at,
      redis: commandsPerEvent(redisBefore, redisAfter, produced),
      tally,
    };
  }

  /**
   * Open loop: XADDs at `rate` events/s regardless of how fast they are delivered, every 5 ms as many as are due.
   * Latency is taken from the receiver for events XADDed during the measuring window.
   */
  async pacedLoop(name: string, tenant: string, rate: number, stream = this.config.WSS_STREAM): Promise<PacedResult> {
    const tally = this.receiver.startPhase();
    const started = Date.now();
    const measureFrom = started + this.profile.latencyWarmupMs;
    const measureTo = measureFrom + this.profile.latencyMs;
    let sent = 0;
    while (Date.now() < measureTo && sent < MAX_EVENTS_PER_PHASE) {
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      if (due > sent) {
        const n = Math.min(due - sent, 500);
        await this.xaddBatch(stream, tenant, n);
        sent += n;
      }
      await sleep(5);
    }
    await this.waitForCount(`${name}: deliveries`, () => tally.delivered.size, sent);
    return { ...this.latencyFrom(name, rate, tally.sentAt, tally.latencyMs, measureFrom, measureTo), tally };
  }

  latencyFrom(
    name: string,
    rate: number,
    sentAt: readonly number[],
    latencyMs: readonly number[],
    from: number,
    to: number,
  ): PacedResult {
    const inWindow: number[] = [];
    sentAt.forEach((t, i) => {
      if (t >= from && t < to) inWindow.push(latencyMs[i] as number);
    });
    return {
      name,
      targetRate: rate,
      achievedRate: inWindow.length / ((to - from) / 1000),
      latency: summarizeLatency(inWindow),
    };
  }

  // ---- floor -----------------------------------------------------------------------------------------------

  private floorSeq = 0;

  private startFloorWorkflow(sentAt: number, errors: unknown[], empty = false): void {
    const seq = this.floorSeq++;
    const workflowId = `${this.id}-floor-${seq}`;
    const options = { taskQueue: `${this.id}-floor`, workflowId, args: [sentAt] as [number] };
    const started = empty
      ? this.temporal.workflow.start('emptyWorkflow', options)
      : this.args.floorVariant === 'status'
        ? this.temporal.workflow.start('floorWorkflowWithStatus', {
            ...options,
            typedSearchAttributes: [
              { key: TenantIdKey, value: this.tenants.one },
              { key: EventIdKey, value: `evt_floor_${seq}` },
              { key: EventTypeKey, value: EVENT_TYPE },
              { key: EndpointIdKey, value: ['ep_floor'] },
              { key: DeliveryStatusKey, value: 'pending' },
            ],
          })
        : this.temporal.workflow.start('floorWorkflow', options);
    started.catch((err: unknown) => errors.push(err));
  }

  /**
   * Closed loop with `concurrency` floor workflows in flight (started, activity not yet run); `empty`: workflows
   * that only start and complete.
   */
  async floorClosedLoop(concurrency: number, empty = false): Promise<FloorRun> {
    const errors: unknown[] = [];
    const startedBefore = this.floorSeq;
    const doneBefore = this.floorDone;
    const started = Date.now();
    const measureFrom = started + this.profile.floorWarmupMs;
    let window: { done: number; at: number; cpu: ReturnType<ProcSampler['cpuMark']> } | undefined;
    while (
      (!window || Date.now() < window.at + this.profile.floorMs) &&
      this.floorSeq - startedBefore < MAX_EVENTS_PER_PHASE
    ) {
      const inFlight = this.floorSeq - startedBefore - (this.floorDone - doneBefore);
      for (let i = inFlight; i < concurrency; i++) this.startFloorWorkflow(Date.now(), errors, empty);
      await sleep(2);
      if (!window && Date.now() >= measureFrom)
        window = { done: this.floorDone, at: Date.now(), cpu: this.sampler.cpuMark() };
      if (errors.length > 0) throw new HarnessError(`floor workflow start failed: ${String(errors[0])}`);
    }
    const end = { done: this.floorDone, at: Date.now(), cpu: this.sampler.cpuMark() };
    await this.waitForCount(
      `floor c=${concurrency}: finished workflows`,
      () => this.floorDone - doneBefore,
      this.floorSeq - startedBefore,
    );
    if (!window) throw new HarnessError('floor: the measuring window never started');
    return {
      concurrency,
      workflowsPerSec: (end.done - window.done) / ((end.at - window.at) / 1000),
      cpu: cpuPercent(window.cpu, end.cpu),
      cpuPer1000: cpuSecondsPer(window.cpu, end.cpu, end.done - window.done),
    };
  }

  /** Floor workflows started in an open loop at `rate`/s; latency = activity start − start call. */
  async floorPaced(rate: number): Promise<PacedResult> {
    const errors: unknown[] = [];
    this.floorSentAt = [];
    this.floorLatency = [];
    const startedBefore = this.floorSeq;
    const doneBefore = this.floorDone;
    const started = Date.now();
    const measureFrom = started + this.profile.latencyWarmupMs;
    const measureTo = measureFrom + this.profile.latencyMs;
    let sent = 0;
    while (Date.now() < measureTo && sent < MAX_EVENTS_PER_PHASE) {
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      for (; sent < due && sent < MAX_EVENTS_PER_PHASE; sent++) this.startFloorWorkflow(Date.now(), errors);
      if (errors.length > 0) throw new HarnessError(`floor workflow start failed: ${String(errors[0])}`);
      await sleep(5);
    }
    await this.waitForCount(
      'floor latency run: finished workflows',
      () => this.floorDone - doneBefore,
      this.floorSeq - startedBefore,
    );
    return this.latencyFrom('floor', rate, this.floorSentAt, this.floorLatency, measureFrom, measureTo);
  }

  // ---- raw -------------------------------------------------------------------------------------------------

  async rawLimit(): Promise<{ requestsPerSec: number; cpu: Record<string, number> }> {
    this.receiver.startPhase();
    const child = this.spawn('raw-client', 'bench/raw-client.ts', {
      ...this.childEnv,
      BENCH_RAW_URL: `${this.receiver.baseUrl}/raw`,
      BENCH_RAW_CONCURRENCY: String(RAW_CONCURRENCY),
      BENCH_RAW_DURATION_MS: String(this.profile.rawMs),
      BENCH_RAW_SECRET: generateWssSecret(),
    });
    const before = this.sampler.cpuMark();
    const code = await new Promise<number | null>((resolve) => child.process.once('exit', (c) => resolve(c)));
    const after = this.sampler.cpuMark();
    this.children.delete('raw-client');
    this.sampler.untrack('raw-client');
    const last = readFileSync(child.logFile, 'utf8').trim().split('\n').pop() ?? '';
    if (code !== 0) throw new HarnessError(`raw client failed (exit ${code}):\n${child.tail()}`);
    const result = JSON.parse(last) as { ok: number; failed: number; elapsedMs: number };
    if (result.failed > 0) throw new HarnessError(`raw client got ${result.failed} non-2xx answers`);
    // The child exits right after its loop, so its own CPU share is lost; the receiver side (bench) is measured.
    return { requestsPerSec: result.ok / (result.elapsedMs / 1000), cpu: cpuPercent(before, after) };
  }
}

interface FloorRun {
  readonly concurrency: number;
  readonly workflowsPerSec: number;
  readonly cpu: Record<string, number>;
  /** CPU seconds per 1,000 workflows in the measured window, per process. */
  readonly cpuPer1000: Record<string, number>;
}

interface ThroughputResult {
  readonly name: string;
  readonly produced: number;
  readonly deliveriesPerSec: number;
  readonly attemptsPerSec: number;
  readonly cpu: Record<string, number>;
  /** CPU seconds per 1,000 deliveries in the measured window, per process. */
  readonly cpuPer1000: Record<string, number>;
  readonly windowFrom: number;
  readonly windowTo: number;
  readonly redis: { total: number; byCommand: Record<string, number> };
  readonly tally: PhaseTally;
}

interface PacedResult {
  /** The receiver's tally of the phase (pipeline phases only). */
  readonly tally?: PhaseTally;
  readonly name: string;
  readonly targetRate: number;
  readonly achievedRate: number;
  readonly latency: LatencySummary;
}

/** Every n-th of the delivered event ids, up to `count`, as workflow ids. */
function sampleWorkflowIds(tenant: TenantId, tally: PhaseTally, count: number): string[] {
  const ids = [...tally.eventIds].filter((id) => id.startsWith('evt_'));
  const step = Math.max(1, Math.floor(ids.length / count));
  const out: string[] = [];
  for (let i = 0; i < ids.length && out.length < count; i += step)
    out.push(deliveryWorkflowId(tenant, parseEventId(ids[i] as string)));
  return out;
}

/**
 * The all-in-one row: the separate worker and consumer stop, src/main/all-in-one.ts starts on a stream of its own,
 * and the same 1-endpoint closed loop runs against it, then the open loop at 50% of its own maximum. The share of
 * starts the server ran eagerly is read from a sample of real histories (`eagerExecutionAccepted`).
 */
async function allInOnePhase(bench: Bench, separate: ThroughputResult): Promise<Record<string, unknown>> {
  const log = (message: string) => console.log(`[bench] ${message}`);
  await bench.stopChild('consumer');
  await bench.stopChild('worker');
  const stream = `${bench.id}:aio`;
  bench.startAllInOne(stream);
  const warm = bench.receiver.startPhase();
  await bench.xaddBatch(stream, bench.tenants.one, 20);
  await bench.waitForCount(
    'all-in-one warm-up (start-up and bundling included): deliveries',
    () => warm.delivered.size,
    20,
  );
  const tp = await bench.closedLoop('all-in-one 1 endpoint', bench.tenants.one, 1, stream);
  log(`all-in-one 1 ep: ${tp.deliveriesPerSec.toFixed(1)} deliveries/s (${cpuNote(tp.cpu)})`);
  const rate = Math.max(1, Math.round(tp.deliveriesPerSec * 0.5));
  const half = await bench.pacedLoop('all-in-one latency 50%', bench.tenants.one, rate, stream);
  const eagerShare = async (tally: PhaseTally): Promise<{ eager: number; of: number }> => {
    const ids = sampleWorkflowIds(bench.tenants.one, tally, bench.profile.historySample);
    let eager = 0;
    for (const workflowId of ids) {
      const history = await bench.temporal.workflow.getHandle(workflowId).fetchHistory();
      if (history.events?.[0]?.workflowExecutionStartedEventAttributes?.eagerExecutionAccepted === true) eager += 1;
    }
    return { eager, of: ids.length };
  };
  const saturated = await eagerShare(tp.tally);
  const moderate = half.tally ? await eagerShare(half.tally) : { eager: 0, of: 0 };
  bench.row({
    section: 'all-in-one',
    metric: 'throughput, 1 endpoint/event (npm start)',
    value: round(tp.deliveriesPerSec, 1),
    unit: 'deliveries/s',
    note: `${round(tp.deliveriesPerSec / separate.deliveriesPerSec, 2)}× separate roles; eager starts ${saturated.eager} of ${saturated.of} sampled; CPU s/1,000: ${cpuPer1000Note(tp.cpuPer1000)}`,
  });
  const l = half.latency;
  bench.row({
    section: 'all-in-one',
    metric: `XADD→receiver @50% (${rate}/s) p50/p95/p99/max`,
    value: `${l.p50} / ${l.p95} / ${l.p99} / ${l.max}`,
    unit: 'ms',
    note: `${l.samples} samples, achieved ${round(half.achievedRate, 1)}/s; eager starts ${moderate.eager} of ${moderate.of} sampled`,
  });
  await bench.stopChild('all-in-one');
  const { tally: _tally, ...result } = tp;
  const { tally: _halfTally, ...latency } = half;
  return { throughput: result, latency, eagerSampled: { saturated, moderate } };
}

/** The processes of the service and its servers, in the order the CPU rows list them. */
const CPU_ROLES = ['worker', 'consumer', 'all-in-one', 'temporal', 'postgres', 'redis'] as const;

/**
 * CPU seconds per 1,000 deliveries of each role and of the Temporal server and Redis, in the 1-endpoint window (the
 * note gives the 5-endpoint window and the floors' per 1,000 workflows). The bench process itself (producer and
 * receiver) is left out of the stack's total.
 */
function cpuRows(bench: Bench, tp1: ThroughputResult, tp5: ThroughputResult, floor: FloorRun, empty: FloorRun): void {
  const total = (cpu: Record<string, number>) =>
    round(
      CPU_ROLES.reduce((sum, name) => sum + (cpu[name] ?? 0), 0),
      1,
    );
  for (const name of CPU_ROLES) {
    if (tp1.cpuPer1000[name] === undefined) continue;
    const floorPart =
      name === 'temporal'
        ? `; floor ${floor.cpuPer1000.temporal ?? '?'}, empty floor ${empty.cpuPer1000.temporal ?? '?'} per 1,000 workflows`
        : '';
    bench.row({
      section: 'cpu',
      metric: `CPU s per 1,000 deliveries: ${name === 'temporal' ? 'Temporal server' : name}`,
      value: tp1.cpuPer1000[name] ?? Number.NaN,
      unit: 's',
      note: `1 endpoint; ${FAN_OUT} endpoints: ${tp5.cpuPer1000[name] ?? '?'}${floorPart}`,
    });
  }
  bench.row({
    section: 'cpu',
    metric: 'CPU s per 1,000 deliveries: whole stack',
    value: total(tp1.cpuPer1000),
    unit: 's',
    note: `worker + consumer + Temporal (+ PostgreSQL) + Redis, 1 endpoint; ${FAN_OUT} endpoints: ${total(tp5.cpuPer1000)}`,
  });
}

/** CPU seconds per 1,000, by process, largest first. */
function cpuPer1000Note(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .sort((a, b) => b[1] - a[1])
    .map(([name, seconds]) => `${name} ${seconds}`)
    .join(', ');
}

function cpuNote(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .sort((a, b) => b[1] - a[1])
    .map(([name, pct]) => `${name} ${pct}%`)
    .join(', ');
}

/**
 * Which Temporal server the run is against: scripts/temporal-postgres.mjs exports the pids of its server and of
 * PostgreSQL's postmaster; otherwise it is the dev server that scripts/local-stack.mjs started on this port.
 */
function temporalServer(temporalAddress: string): { name: string; pid?: number; postgresPid?: number } {
  const pidFromEnv = (name: string): number | undefined => {
    const value = process.env[name];
    if (value === undefined || value === '') return undefined;
    if (!/^\d+$/.test(value)) throw new HarnessError(`${name} must be a pid, got "${value}"`);
    return Number(value);
  };
  const serverPid = pidFromEnv('TEMPORAL_SERVER_PID');
  const postgresPid = pidFromEnv('TEMPORAL_POSTGRES_PID');
  if (serverPid !== undefined && postgresPid !== undefined) {
    return { name: 'Temporal server on PostgreSQL', pid: serverPid, postgresPid };
  }
  const port = temporalAddress.split(':')[1] ?? '';
  const pid = findPid((argv) => argv.includes('start-dev') && argv.includes(port));
  return { name: 'Temporal dev server on SQLite', ...(pid !== undefined ? { pid } : {}) };
}

function machineInfo(temporalPid: number | undefined): Record<string, unknown> {
  let temporalVersion = 'unknown';
  if (temporalPid !== undefined) {
    try {
      const exe = readFileSync(`/proc/${temporalPid}/cmdline`, 'utf8').split('\0')[0] ?? '';
      temporalVersion = spawnSync(exe, ['--version'], { encoding: 'utf8', timeout: 5000 }).stdout.trim();
    } catch {
      // Version is informational only.
    }
  }
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    totalMemGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    temporal: temporalVersion,
  };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const base = PROFILES[args.mode];
  // --full-drain: queue the whole drain (20,000 by default) whatever it costs in time; the run then exceeds 10 min
  // on a dev server, which is why the default caps it.
  const profile: Profile = {
    ...base,
    ...(args.fullDrain ? { drainBudgetMs: Number.MAX_SAFE_INTEGER } : {}),
    hangGuardMs: base.hangGuardMs + (args.fullDrain ? 3_600_000 : 0) + (args.soakSeconds ?? 0) * 1000,
  };
  const redisUrl = process.env.REDIS_URL;
  const temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!redisUrl || !temporalAddress) {
    throw new HarnessError(
      'REDIS_URL and TEMPORAL_ADDRESS are not set: run this through `npm run bench` (scripts/local-stack.mjs).',
    );
  }
  for (const url of [redisUrl, `tcp://${temporalAddress}`]) {
    if (new URL(url).hostname !== '127.0.0.1') throw new HarnessError(`the bench only talks to 127.0.0.1, not ${url}`);
  }
  const runStarted = Date.now();
  const id = `bench_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'wss-bench-'));
  const overrides: Record<string, string> = {
    REDIS_URL: redisUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    WSS_KEY_PREFIX: id,
    WSS_STREAM: `${id}:events`,
    WSS_DEAD_LETTER_STREAM: `${id}:events:dead`,
    WSS_CONSUMER_GROUP: `${id}-group`,
    WSS_CONSUMER_NAME: `${id}-consumer`,
    WSS_TASK_QUEUE: `${id}-queue`,
    WSS_MASTER_KEY: randomBytes(32).toString('base64'),
    WSS_ADMIN_TOKEN: `admin_${randomBytes(16).toString('hex')}`,
    WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
    WSS_LOG_LEVEL: 'warn',
    // Several roles run on this one machine: each takes a free ops port instead of the default 9464.
    WSS_OPS_PORT: '0',
  };
  const config = loadConfig({}, overrides);
  const childEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    ...overrides,
  };
  const stores = createStores(config, 'bench');
  const { client: temporal, connection } = await connectTemporalClient(config.temporal);
  const receiver = await startBenchReceiver({ failEvery: 10 });

  const tenants: Tenants = {
    one: parseTenantId(`${id}-one`),
    fan: parseTenantId(`${id}-fan`),
    flaky: parseTenantId(`${id}-flaky`),
  };
  const eventTypes = ['*'];
  await stores.tenants.create(tenants.one, {});
  await stores.tenants.create(tenants.fan, {});
  await stores.tenants.create(tenants.flaky, {});
  await stores.endpoints.create(tenants.one, { url: `${receiver.baseUrl}/one/0`, eventTypes }, generateWssSecret());
  for (let i = 0; i < FAN_OUT; i++) {
    await stores.endpoints.create(
      tenants.fan,
      { url: `${receiver.baseUrl}/fan/${i}`, eventTypes },
      generateWssSecret(),
    );
  }
  await stores.endpoints.create(
    tenants.flaky,
    {
      url: `${receiver.baseUrl}/flaky/0`,
      eventTypes,
      retryPolicy: { initialIntervalMs: 200, backoffCoefficient: 1, jitterPercent: 0, maximumAttempts: 20 },
    },
    generateWssSecret(),
  );

  const bench = new Bench(args, profile, config, childEnv, stores, temporal, receiver, tenants, logDir, id);
  const hangGuard = setTimeout(() => {
    console.error(
      `[bench] HARNESS HANG: the run has not finished after ${minutes(profile.hangGuardMs)}. This is a hang guard, ` +
        `many times a run on a loaded machine, not a performance limit.\n${bench.tails()}`,
    );
    bench.killAll();
    process.exit(1);
  }, profile.hangGuardMs);
  hangGuard.unref();

  const server = temporalServer(temporalAddress);
  const temporalPid = server.pid;
  const redisPid = findPid(
    (argv) => (argv[0] ?? '').includes('redis-server') && argv.join(' ').includes(new URL(redisUrl).port),
  );
  bench.sampler.track('temporal', temporalPid);
  // The postmaster and its backends as one process (scripts/temporal-postgres.mjs).
  bench.sampler.track('postgres', server.postgresPid, readProcTree);
  bench.sampler.track('redis', redisPid);
  bench.sampler.track('bench', process.pid);
  bench.sampler.start();
  const log = (message: string) => console.log(`[bench +${((Date.now() - runStarted) / 1000).toFixed(0)}s] ${message}`);
  log(`mode ${args.mode}; ${server.name}; logs in ${logDir}; temporal pid ${temporalPid}, redis pid ${redisPid}`);

  try {
    // ---- start-up: worker, floor worker and consumer; a warm-up batch proves the pipeline works end to end.
    bench.startWorker();
    const floorReady = bench.startFloorWorker();
    bench.startConsumer(config.WSS_STREAM, config.WSS_CONSUMER_NAME);
    const warm = receiver.startPhase();
    await bench.xaddBatch(config.WSS_STREAM, tenants.one, 50);
    await bench.waitForCount(
      'warm-up (worker bundling and start-up included): deliveries',
      () => warm.delivered.size,
      50,
    );
    await floorReady;
    log('pipeline and floor worker ready');

    if (args.ab !== undefined) {
      // ---- A/B: the worker variants one after the other, in rounds, against the same consumer and server, so a
      // ratio between them is measured under the same (noisy) machine load.
      const runs: { variant: string; round: number; result: Omit<ThroughputResult, 'tally'> }[] = [];
      for (let round = 1; round <= args.rounds; round++) {
        for (const variant of args.ab) {
          await bench.stopChild('worker');
          bench.startWorker(abVariantEnv(variant));
          const warmAb = receiver.startPhase();
          await bench.xaddBatch(config.WSS_STREAM, tenants.one, 20);
          await bench.waitForCount(`${variant}: warm-up`, () => warmAb.delivered.size, 20);
          const { tally: _tally, ...result } = await bench.closedLoop(`ab ${variant} #${round}`, tenants.one, 1);
          runs.push({ variant, round, result });
          log(
            `ab ${variant} #${round}: ${result.deliveriesPerSec.toFixed(1)} deliveries/s; CPU s/1000: ${cpuPer1000Note(result.cpuPer1000)}`,
          );
        }
      }
      for (const variant of args.ab) {
        const mine = runs.filter((r) => r.variant === variant);
        const cpu = (name: string) => round(mean(mine.map((r) => r.result.cpuPer1000[name] ?? Number.NaN)), 1);
        bench.row({
          section: 'ab',
          metric: `${variant}: throughput, 1 endpoint`,
          value: round(mean(mine.map((r) => r.result.deliveriesPerSec)), 1),
          unit: 'deliveries/s',
          note: `rounds ${mine.map((r) => round(r.result.deliveriesPerSec, 1)).join(' / ')}; CPU s/1000: worker ${cpu('worker')}, temporal ${cpu('temporal')}, consumer ${cpu('consumer')}`,
        });
      }
      bench.details.ab = runs;
      writeResults();
      await bench.assertHealthy();
      return 0;
    }

    if (args.soakSeconds !== undefined) {
      // ---- soak: the 1-endpoint closed loop, window after window at the same load, to tell a leak (RSS keeps
      // climbing at constant load) from warm-up and load changes.
      const deadline = Date.now() + args.soakSeconds * 1000;
      const windows: { index: number; deliveriesPerSec: number; workerRssMb: number; consumerRssMb: number }[] = [];
      while (Date.now() < deadline && windows.length < 200) {
        const tp = await bench.closedLoop(`soak ${windows.length + 1}`, tenants.one, 1);
        const workerRssMb = mean(bench.sampler.rssBetween('worker', tp.windowFrom, tp.windowTo));
        const consumerRssMb = mean(bench.sampler.rssBetween('consumer', tp.windowFrom, tp.windowTo));
        windows.push({ index: windows.length + 1, deliveriesPerSec: tp.deliveriesPerSec, workerRssMb, consumerRssMb });
        log(
          `soak window ${windows.length}: ${tp.deliveriesPerSec.toFixed(1)} deliveries/s, worker ${workerRssMb.toFixed(0)} MB, consumer ${consumerRssMb.toFixed(0)} MB`,
        );
      }
      const third = Math.max(1, Math.floor(windows.length / 3));
      const trend = (key: 'workerRssMb' | 'consumerRssMb') =>
        mean(windows.slice(-third).map((w) => w[key])) / mean(windows.slice(0, third).map((w) => w[key]));
      for (const w of windows) {
        bench.row({
          section: 'soak',
          metric: `window ${w.index}: deliveries/s, worker / consumer RSS MB`,
          value: round(w.deliveriesPerSec, 1),
          unit: 'deliveries/s',
          note: `worker ${round(w.workerRssMb, 0)} MB, consumer ${round(w.consumerRssMb, 0)} MB`,
        });
      }
      const workerTrend = trend('workerRssMb');
      bench.row({
        section: 'soak',
        metric: 'worker RSS trend at constant load, last ÷ first third',
        value: round(workerTrend, 3),
        unit: '×',
        target: '≤ 1.10',
        met: workerTrend <= 1.1,
      });
      bench.row({
        section: 'soak',
        metric: 'consumer RSS trend at constant load, last ÷ first third',
        value: round(trend('consumerRssMb'), 3),
        unit: '×',
      });
      bench.details.soak = windows;
      writeResults();
      await bench.assertHealthy();
      return 0;
    }

    // ---- 3. raw limit
    const raw = await bench.rawLimit();
    log(`raw: ${raw.requestsPerSec.toFixed(0)} req/s`);
    bench.row({
      section: 'raw',
      metric: `sign+POST, undici, c=${RAW_CONCURRENCY}`,
      value: round(raw.requestsPerSec, 0),
      unit: 'req/s',
      note: cpuNote(raw.cpu),
    });

    // ---- 2. Temporal floor: closed loops at a few concurrency levels; the best is the ceiling.
    const floorRuns = [];
    for (const c of profile.floorConcurrency) {
      const run = await bench.floorClosedLoop(c);
      floorRuns.push(run);
      log(`floor c=${c}: ${run.workflowsPerSec.toFixed(1)} wf/s (${cpuNote(run.cpu)})`);
      bench.row({
        section: 'floor',
        metric: `no-op workflow, ${c} in flight`,
        value: round(run.workflowsPerSec, 1),
        unit: 'wf/s',
        note: cpuNote(run.cpu),
      });
    }
    const floorBest = floorRuns.reduce((a, b) => (b.workflowsPerSec > a.workflowsPerSec ? b : a));
    // The empty workflow: start and complete in one workflow task, the server's own limit per event.
    const emptyRuns: FloorRun[] = [];
    for (const c of profile.floorConcurrency) {
      const run = await bench.floorClosedLoop(c, true);
      emptyRuns.push(run);
      log(`empty floor c=${c}: ${run.workflowsPerSec.toFixed(1)} wf/s (${cpuNote(run.cpu)})`);
      bench.row({
        section: 'floor',
        metric: `empty workflow (start, complete), ${c} in flight`,
        value: round(run.workflowsPerSec, 1),
        unit: 'wf/s',
        note: cpuNote(run.cpu),
      });
    }
    const emptyBest = emptyRuns.reduce((a, b) => (b.workflowsPerSec > a.workflowsPerSec ? b : a));

    // ---- 1. pipeline throughput, 1 and FAN_OUT endpoints (closed loop), with Redis commands and CPU.
    const tp1 = await bench.closedLoop('pipeline 1 endpoint', tenants.one, 1);
    log(`pipeline 1 ep: ${tp1.deliveriesPerSec.toFixed(1)} deliveries/s (${cpuNote(tp1.cpu)})`);
    const tp5 = await bench.closedLoop(`pipeline ${FAN_OUT} endpoints`, tenants.fan, FAN_OUT);
    log(`pipeline ${FAN_OUT} ep: ${tp5.deliveriesPerSec.toFixed(1)} deliveries/s (${cpuNote(tp5.cpu)})`);
    bench.row({
      section: 'pipeline',
      metric: 'throughput, 1 endpoint/event',
      value: round(tp1.deliveriesPerSec, 1),
      unit: 'deliveries/s',
      note: cpuNote(tp1.cpu),
    });
    bench.row({
      section: 'pipeline',
      metric: `throughput, ${FAN_OUT} endpoints/event`,
      value: round(tp5.deliveriesPerSec, 1),
      unit: 'deliveries/s',
      note: `${round(tp5.deliveriesPerSec / FAN_OUT, 1)} events/s; ${cpuNote(tp5.cpu)}`,
    });
    cpuRows(bench, tp1, tp5, floorBest, emptyBest);
    if (args.throughputOnly) {
      bench.details.floorRuns = floorRuns;
      bench.details.emptyFloorRuns = emptyRuns;
      bench.details.throughput = [tp1, tp5].map(({ tally: _tally, ...rest }) => rest);
      writeResults();
      await bench.assertHealthy();
      return 0;
    }

    // ---- 8. retry overhead: 10% of answers 503, retried after 200 ms.
    const flaky = await bench.closedLoop('pipeline 10% 503', tenants.flaky, 1);
    log(
      `pipeline 10% 503: ${flaky.deliveriesPerSec.toFixed(1)} deliveries/s, ${flaky.attemptsPerSec.toFixed(1)} attempts/s`,
    );
    bench.row({
      section: 'retry',
      metric: 'throughput, 10% 503 (retry 200 ms)',
      value: round(flaky.deliveriesPerSec, 1),
      unit: 'deliveries/s',
      note: `${round(flaky.attemptsPerSec, 1)} attempts/s; ${round((flaky.deliveriesPerSec / tp1.deliveriesPerSec) * 100, 0)}% of all-2xx`,
    });

    // ---- 4. latency at 25/50/80% of the measured 1-endpoint max (open loop).
    const maxRate = tp1.deliveriesPerSec;
    const paced: PacedResult[] = [];
    for (const level of LOAD_LEVELS) {
      const rate = Math.max(1, Math.round(maxRate * level));
      const { tally: _tally, ...result } = await bench.pacedLoop(`latency ${level * 100}%`, tenants.one, rate);
      paced.push(result);
      const l = result.latency;
      log(`latency @${level * 100}% (${rate}/s): p50 ${l.p50} p95 ${l.p95} p99 ${l.p99} max ${l.max} ms`);
      bench.row({
        section: 'latency',
        metric: `XADD→receiver @${level * 100}% (${rate}/s) p50/p95/p99/max`,
        value: `${l.p50} / ${l.p95} / ${l.p99} / ${l.max}`,
        unit: 'ms',
        note: `${l.samples} samples, achieved ${round(result.achievedRate, 1)}/s`,
      });
    }
    const half = paced[1]!;
    const floorHalf = await bench.floorPaced(half.targetRate);
    log(`floor latency @${half.targetRate}/s: p50 ${floorHalf.latency.p50} p99 ${floorHalf.latency.p99} ms`);
    bench.row({
      section: 'floor',
      metric: `start→activity @${half.targetRate}/s p50/p95/p99/max`,
      value: `${floorHalf.latency.p50} / ${floorHalf.latency.p95} / ${floorHalf.latency.p99} / ${floorHalf.latency.max}`,
      unit: 'ms',
      note: `${floorHalf.latency.samples} samples`,
    });
    await bench.stopChild('floor-worker');

    // ---- 5. cost: history events and billable actions from real histories; Redis commands per event.
    // Each sampled workflow may take as long as a stall to close; waiting longer than that is a hang.
    const cost1 = await measureHistoryCost(
      temporal,
      sampleWorkflowIds(tenants.one, tp1.tally, profile.historySample),
      profile.stallMs,
    );
    const cost5 = await measureHistoryCost(
      temporal,
      sampleWorkflowIds(tenants.fan, tp5.tally, profile.historySample),
      profile.stallMs,
    );
    const costFlaky = await measureHistoryCost(
      temporal,
      sampleWorkflowIds(tenants.flaky, flaky.tally, profile.historySample * 2),
      profile.stallMs,
    );
    const costRow = (label: string, cost: HistoryCost, n: number) => {
      bench.row({
        section: 'cost',
        metric: `history events/event, ${label}`,
        value: cost.historyEventsPerEvent,
        unit: 'events',
        // Issue 16's target for a first-attempt success to 1 endpoint (8 until the local-first-attempt patch is retired).
        ...(n === 1 && label === '1 endpoint' ? { target: '≤ 6', met: cost.historyEventsPerEvent <= 6 } : {}),
        note: `${cost.workflows} histories`,
      });
      bench.row({
        section: 'cost',
        metric: `billable actions/event, ${label}`,
        value: cost.billableActionsPerEvent,
        unit: 'actions',
        target: '≤ 3',
        met: cost.billableActionsPerEvent <= 3,
        note: Object.entries(cost.actions)
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      });
    };
    costRow('1 endpoint', cost1, 1);
    costRow(`${FAN_OUT} endpoints`, cost5, FAN_OUT);
    costRow('1 endpoint, 10% 503', costFlaky, 1);
    const topCommands = (r: ThroughputResult) =>
      Object.entries(r.redis.byCommand)
        .slice(0, 6)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
    bench.row({
      section: 'cost',
      metric: 'Redis commands/event, 1 endpoint',
      value: tp1.redis.total,
      unit: 'commands',
      note: topCommands(tp1),
    });
    bench.row({
      section: 'cost',
      metric: `Redis commands/event, ${FAN_OUT} endpoints`,
      value: tp5.redis.total,
      unit: 'commands',
      note: topCommands(tp5),
    });

    // ---- 6. backlog drain: N events queued on a fresh stream before a fresh consumer starts.
    await bench.stopChild('consumer');
    const drainStream = `${id}:drain`;
    const enqueued = new Set<string>();
    // At the rates a dev server reaches, 20,000 events can take longer than the whole run may; the drain is then cut
    // to what the budget allows at the measured rate, and the row says so.
    const drainEvents = Math.min(
      profile.drainEvents,
      Math.max(100, Math.floor((tp1.deliveriesPerSec * profile.drainBudgetMs) / 1000)),
    );
    for (let left = drainEvents; left > 0; left -= 1000) {
      for (const entryId of await bench.xaddBatch(drainStream, tenants.one, Math.min(1000, left)))
        enqueued.add(`evt_${entryId}`);
    }
    const drainTally = receiver.startPhase();
    const drainStart = Date.now();
    bench.startConsumer(drainStream, `${id}-drain-consumer`);
    log(`drain: ${enqueued.size} events queued; consumer started`);
    let drainTimedOut = false;
    await bench
      .waitForCount('the drain: unique events', () => drainTally.eventIds.size, enqueued.size)
      .catch((err: unknown) => {
        if (!(err instanceof StallError)) throw err;
        drainTimedOut = true;
      });
    const drainSeconds = (Date.now() - drainStart) / 1000;
    await sleep(args.mode === 'quick' ? 1000 : 3000); // Late duplicates would arrive now.
    const lost = [...enqueued].filter((eventId) => !drainTally.eventIds.has(eventId)).length;
    const fromFirst =
      drainTally.firstOkAt !== undefined && drainTally.lastOkAt !== undefined
        ? (drainTally.lastOkAt - drainTally.firstOkAt) / 1000
        : Number.NaN;
    log(`drain: ${drainSeconds.toFixed(1)} s, lost ${lost}, duplicates ${drainTally.duplicates}`);
    const capped =
      drainEvents < profile.drainEvents
        ? `; capped from ${profile.drainEvents} (≈ ${round(profile.drainEvents / tp1.deliveriesPerSec, 0)} s at the measured rate)`
        : '';
    bench.row({
      section: 'drain',
      metric: `${enqueued.size} queued events, consumer start→last delivery`,
      value: round(drainSeconds, 1),
      unit: 's',
      note: `${round(enqueued.size / drainSeconds, 1)} events/s; ${round(enqueued.size / fromFirst, 1)}/s from first delivery${capped}`,
    });
    bench.row({
      section: 'drain',
      metric: 'lost events (enqueued − unique received)',
      value: lost,
      unit: 'events',
      target: '0',
      met: lost === 0,
    });
    bench.row({
      section: 'drain',
      metric: 'duplicate deliveries',
      value: drainTally.duplicates,
      unit: 'deliveries',
      note: 'receivers deduplicate by event id',
    });

    // ---- 6b. the all-in-one that `npm start` runs: one process, worker + consumer + API on one connection
    // (eager start). The separate roles stop first: this row prices the one-process topology on the same server.
    const aio = await allInOnePhase(bench, tp1);

    // ---- 7. memory: peaks over the whole run, trend over the throughput phases.
    const rssTrend = (name: string) => {
      const samples = bench.sampler.rssBetween(name, tp1.windowFrom, tp5.windowTo);
      const third = Math.max(1, Math.floor(samples.length / 3));
      return { first: mean(samples.slice(0, third)), last: mean(samples.slice(-third)), samples: samples.length };
    };
    const workerTrend = rssTrend('worker');
    const consumerTrend = rssTrend('consumer');
    const trendRatio = workerTrend.last / workerTrend.first;
    bench.row({
      section: 'memory',
      metric: 'worker peak RSS',
      value: round(bench.sampler.peakRssMb('worker') ?? Number.NaN, 0),
      unit: 'MB',
    });
    bench.row({
      section: 'memory',
      metric: 'consumer peak RSS',
      value: round(bench.sampler.peakRssMb('consumer') ?? Number.NaN, 0),
      unit: 'MB',
    });
    bench.row({
      section: 'memory',
      metric: 'temporal server peak RSS',
      value: round(bench.sampler.peakRssMb('temporal') ?? Number.NaN, 0),
      unit: 'MB',
      note: server.name,
    });
    if (server.postgresPid !== undefined) {
      bench.row({
        section: 'memory',
        metric: 'postgres peak PSS (postmaster + backends)',
        value: round(bench.sampler.peakRssMb('postgres') ?? Number.NaN, 0),
        unit: 'MB',
      });
    }
    bench.row({
      section: 'memory',
      metric: 'worker RSS trend, last ÷ first third of throughput',
      value: round(trendRatio, 3),
      unit: '×',
      target: '≤ 1.10',
      met: trendRatio <= 1.1,
      note: `${round(workerTrend.first, 0)} → ${round(workerTrend.last, 0)} MB (${workerTrend.samples} samples); consumer ${round(consumerTrend.first, 0)} → ${round(consumerTrend.last, 0)} MB`,
    });

    await bench.stopAll();

    // ---- 9. filter/transform microbench, alone on the machine now.
    for (const r of await runFilterTransformBench({ durationMs: profile.filterMs })) {
      bench.row({
        section: 'filter/transform',
        metric: r.name,
        value: r.opsPerSec,
        unit: 'ops/s',
        note: `${r.ratioToBaseline}× JSON.parse`,
      });
    }

    // ---- targets, as ratios measured in this run.
    const pipelineVsFloor = tp1.deliveriesPerSec / floorBest.workflowsPerSec;
    const p99Ratio = half.latency.p99 / floorHalf.latency.p99;
    bench.row({
      section: 'targets',
      metric: 'pipeline (1 ep) ÷ floor (best)',
      value: round(pipelineVsFloor, 3),
      unit: '×',
      target: '≥ 1.5',
      met: pipelineVsFloor >= 1.5,
      note: `${round(tp1.deliveriesPerSec, 1)} ÷ ${round(floorBest.workflowsPerSec, 1)} (floor c=${floorBest.concurrency})`,
    });
    const pipelineVsEmpty = tp1.deliveriesPerSec / emptyBest.workflowsPerSec;
    bench.row({
      section: 'targets',
      metric: 'pipeline (1 ep) ÷ empty-workflow floor (best)',
      value: round(pipelineVsEmpty, 3),
      unit: '×',
      target: '≥ 0.8',
      met: pipelineVsEmpty >= 0.8,
      note: `${round(tp1.deliveriesPerSec, 1)} ÷ ${round(emptyBest.workflowsPerSec, 1)} (empty c=${emptyBest.concurrency})`,
    });
    bench.row({
      section: 'targets',
      metric: 'raw ÷ pipeline (1 ep)',
      value: round(raw.requestsPerSec / tp1.deliveriesPerSec, 1),
      unit: '×',
      note: 'headroom of HTTP+signing over the pipeline',
    });
    bench.row({
      section: 'targets',
      metric: `p99 @50% (${half.targetRate}/s) ÷ floor p99 at same rate`,
      value: round(p99Ratio, 2),
      unit: '×',
      target: '≤ 0.7',
      met: p99Ratio <= 0.7,
      note: `${half.latency.p99} ms ÷ ${floorHalf.latency.p99} ms`,
    });
    bench.row({
      section: 'targets',
      metric: 'history events per 1-endpoint delivery',
      value: cost1.historyEventsPerEvent,
      unit: 'events',
      target: '≤ 6',
      met: cost1.historyEventsPerEvent <= 6,
    });
    bench.row({
      section: 'targets',
      metric: 'billable actions per event, 1 / 5 endpoints',
      value: `${cost1.billableActionsPerEvent} / ${cost5.billableActionsPerEvent}`,
      unit: 'actions',
      target: '≤ 3 whatever the fan-out',
      met: cost1.billableActionsPerEvent <= 3 && cost5.billableActionsPerEvent <= 3,
    });
    const fanOutRatio = tp5.deliveriesPerSec / tp1.deliveriesPerSec;
    bench.row({
      section: 'targets',
      metric: `fan-out ${FAN_OUT} ÷ 1 endpoint, deliveries/s`,
      value: round(fanOutRatio, 2),
      unit: '×',
      target: '≥ 4',
      met: fanOutRatio >= 4,
      note: `${round(tp5.deliveriesPerSec, 1)} ÷ ${round(tp1.deliveriesPerSec, 1)}`,
    });
    bench.row({ section: 'targets', metric: 'drain loss', value: lost, unit: 'events', target: '0', met: lost === 0 });
    bench.row({
      section: 'targets',
      metric: 'worker RSS trend',
      value: round(trendRatio, 3),
      unit: '×',
      target: '≤ 1.10',
      met: trendRatio <= 1.1,
    });
    const pipelineDuplicates = tp1.tally.duplicates + tp5.tally.duplicates + flaky.tally.duplicates;
    bench.row({
      section: 'targets',
      metric: 'duplicate deliveries in throughput phases',
      value: pipelineDuplicates,
      unit: 'deliveries',
    });

    bench.details.floorRuns = floorRuns;
    bench.details.emptyFloorRuns = emptyRuns;
    bench.details.throughput = [tp1, tp5, flaky].map(({ tally: _tally, ...rest }) => rest);
    bench.details.latency = { pipeline: paced, floor: floorHalf };
    bench.details.historyCost = { oneEndpoint: cost1, fanOut: cost5, flaky: costFlaky };
    bench.details.allInOne = aio;
    bench.details.drain = {
      enqueued: enqueued.size,
      seconds: drainSeconds,
      lost,
      duplicates: drainTally.duplicates,
      timedOut: drainTimedOut,
    };
    bench.details.memory = {
      workerTrend,
      consumerTrend,
      peaks: Object.fromEntries(
        bench.sampler.names().map((n) => [n, round(bench.sampler.peakRssMb(n) ?? Number.NaN, 1)]),
      ),
    };

    writeResults();
    if (drainTimedOut || lost > 0) throw new HarnessError(`drain lost ${lost} of ${enqueued.size} events`);
    await bench.assertHealthy();
    log(`done in ${minutes(Date.now() - runStarted)}: no errors, no loss`);
    return 0;
  } catch (err) {
    if (err instanceof HarnessError) console.error(`[bench] HARNESS FAILURE: ${err.message}\n${bench.tails()}`);
    throw err;
  } finally {
    clearTimeout(hangGuard);
    bench.sampler.stop();
    await bench.stopAll();
    await receiver.close();
    await connection.close();
    await stores.close();
  }

  function writeResults(): void {
    // A run on the PostgreSQL server keeps its own result files beside the dev server's.
    const label = [args.mode, args.label, server.postgresPid !== undefined ? 'postgres' : undefined]
      .filter((part) => part !== undefined)
      .join('-');
    const result = {
      mode: label,
      date: new Date().toISOString(),
      durationSeconds: round((Date.now() - runStarted) / 1000, 1),
      machine: { ...machineInfo(temporalPid), temporalServer: server.name },
      settings: {
        profile,
        pipelineWindowDeliveries: PIPELINE_WINDOW_DELIVERIES,
        rawConcurrency: RAW_CONCURRENCY,
        workerOptions: args.workerOptions ?? null,
        consumerEnv: args.consumerEnv,
        floorVariant: args.floorVariant,
      },
      rows: bench.rows,
      details: bench.details,
    };
    const dir = path.join(__dirname, 'results');
    mkdirSync(dir, { recursive: true });
    const stamp = result.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
    writeFileSync(path.join(dir, `${stamp}-${label}.json`), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(path.join(dir, `latest-${label}.json`), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\n${formatTable(bench.rows)}\n`);
    if (process.env.BENCH_MARKDOWN === '1') console.log(`${formatMarkdown(bench.rows)}\n`);
    log(`results: bench/results/${stamp}-${label}.json and bench/results/latest-${label}.json`);
  }
}

main()
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    if (!(err instanceof HarnessError)) console.error('[bench] HARNESS FAILURE:', err);
    process.exit(1);
  });
