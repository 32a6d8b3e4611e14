import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import path from 'node:path';
import { WssError } from '../domain/errors';
import type { Config } from '../infra/config';
import type { ChildReply, ChildSetup, ChildTask } from './child-protocol';
import { CHILD_READY } from './child-protocol';
import type { EventText } from '../domain/event';
import type { TransformResult, TransformRunLimits } from './transform';
import { TransformFailedError } from './transform';

/**
 * Runs tenants' transforms isolated from the service's process and bounded in time and memory.
 *
 * Each transform runs in one of a fixed number of child processes, each started with its V8 heap capped
 * (`--max-old-space-size`). The service's process keeps the deadline: a built-in call on a huge value (`$string`
 * of a 10M range) cannot be interrupted from inside JSONata, so when the deadline passes the child is killed and a
 * fresh one takes its place. Going over the heap cap ends the child the same way. Either is a permanent
 * {@link TransformFailedError} naming the limit; the event loop of the service never waits on a transform.
 *
 * Why processes and not worker threads: a worker thread's `resourceLimits` do not reliably contain it. An
 * allocation larger than V8's slack past the limit (one big array or string, exactly what `[1..10000000]` makes)
 * aborts the WHOLE process with "FATAL ERROR: Reached heap limit" (nodejs/node#47224). A child process that
 * aborts takes only itself down. For the same reason this is not a pool library built on threads (piscina).
 *
 * Scheduling: a child takes one transform at a time. A tenant never holds more than `processes - 1` children
 * (with one child, the one), so another tenant's transform does not wait behind a tenant's hostile ones. Waiting
 * transforms are served fewest-running-tenant first, round robin among equals, so a tenant that floods the pool
 * makes only itself wait; at most `maxQueuedPerTenant` of one tenant's transforms wait, more fail at once with
 * the retryable {@link TransformBusyError}. Time spent waiting does not count towards the time limit.
 *
 * Not evaluated here: `compileTransform` at registration, which is bounded by the 16 KiB expression size (a
 * parse of the worst 16 KiB takes well under a second) and stays in the API's process.
 */

/** Defaults of {@link TransformPoolOptions}. */
export const TRANSFORM_POOL_DEFAULTS = {
  processes: 2,
  timeoutMs: 1000,
  maxMemoryMb: 64,
  maxOutputBytes: 1024 * 1024,
  maxQueuedPerTenant: 64,
} as const;

export interface TransformPoolOptions {
  /** Child processes that evaluate transforms. Default 2. */
  readonly processes?: number;
  /** Wall-clock budget of one evaluation, in ms, counted from when a child takes it. Default 1000. */
  readonly timeoutMs?: number;
  /** V8 heap cap (old generation) of each child, in MB. Default 64. */
  readonly maxMemoryMb?: number;
  /** Largest body a transform may produce, in UTF-8 bytes. Default 1 MiB. */
  readonly maxOutputBytes?: number;
  /** Deepest nesting of JSONata evaluation frames. Default: the transform module's. */
  readonly maxDepth?: number;
  /** One tenant's transforms that may wait for a child; more fail with {@link TransformBusyError}. Default 64. */
  readonly maxQueuedPerTenant?: number;
}

/** The pool options the service's configuration asks for. */
export function transformPoolOptionsFromConfig(
  config: Pick<Config, 'WSS_TRANSFORM_PROCESSES' | 'WSS_TRANSFORM_TIMEOUT_MS' | 'WSS_TRANSFORM_MAX_MEMORY_MB'>,
): TransformPoolOptions {
  return {
    processes: config.WSS_TRANSFORM_PROCESSES,
    timeoutMs: config.WSS_TRANSFORM_TIMEOUT_MS,
    maxMemoryMb: config.WSS_TRANSFORM_MAX_MEMORY_MB,
  };
}

/** Too many of one tenant's transforms are already waiting for a child process. Retrying later can succeed. */
export class TransformBusyError extends WssError {
  readonly code = 'transform_busy';
}

/** The pool is closing, or its child processes failed to start or stopped mid-run. Retrying later can succeed. */
export class TransformUnavailableError extends WssError {
  readonly code = 'transform_unavailable';
}

/** Children that fail before they are ready this many times in a row stop the respawning (until the next run). */
const MAX_BOOT_FAILURES = 3;
/** What V8 writes to stderr when a heap cap is reached. */
const OUT_OF_MEMORY = /heap out of memory|Reached heap limit|Allocation failed/i;
const STDERR_TAIL_BYTES = 4096;

interface Job {
  readonly tenantId: string;
  readonly expression: string;
  readonly event: EventText;
  readonly resolve: (result: TransformResult) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  readonly child: ChildProcess;
  /** Loaded and not condemned: may take work. */
  ready: boolean;
  booted: boolean;
  /** The last bytes the child wrote to stderr: V8's fatal messages, read to tell an out-of-memory abort. */
  stderrTail: string;
  running?: { readonly job: Job; readonly id: number; readonly timer: NodeJS.Timeout };
}

export class TransformPool {
  private readonly processes: number;
  private readonly timeoutMs: number;
  private readonly hardDeadlineMs: number;
  private readonly maxMemoryMb: number;
  private readonly maxQueuedPerTenant: number;
  private readonly perTenantProcesses: number;
  private readonly limits: TransformRunLimits;
  private readonly slots = new Set<Slot>();
  /** Waiting jobs per tenant; the map's order is the round-robin order. */
  private readonly waiting = new Map<string, Job[]>();
  private readonly runningPerTenant = new Map<string, number>();
  private nextId = 1;
  private bootFailures = 0;
  private closed = false;
  private replacedCount = 0;

  constructor(options: TransformPoolOptions = {}) {
    const o = { ...TRANSFORM_POOL_DEFAULTS, ...options };
    for (const [name, value] of Object.entries(o)) {
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
        throw new RangeError(`transform pool: ${name} must be a positive integer`);
      }
    }
    this.processes = o.processes;
    this.timeoutMs = o.timeoutMs;
    // JSONata's own check (the same budget, inside the child) ends step-wise loops with a precise message and
    // keeps the child; the hard deadline, a little later, is for what that check cannot interrupt.
    this.hardDeadlineMs = o.timeoutMs + Math.min(250, Math.ceil(o.timeoutMs / 10));
    this.maxMemoryMb = o.maxMemoryMb;
    this.maxQueuedPerTenant = o.maxQueuedPerTenant;
    this.perTenantProcesses = Math.max(1, o.processes - 1);
    this.limits = {
      timeoutMs: o.timeoutMs,
      maxOutputBytes: o.maxOutputBytes,
      ...(o.maxDepth !== undefined ? { maxDepth: o.maxDepth } : {}),
    };
    // Children start with the first transform: a service whose endpoints have none never starts them.
  }

  /**
   * Evaluates `expression` (already accepted by `compileTransform`) against `event` in a child process.
   *
   * @throws TransformFailedError (permanent) for everything the transform itself causes, the time and memory
   *   limits included. TransformBusyError when too many of the tenant's transforms are waiting, and
   *   TransformUnavailableError when the pool is closed or its children cannot start or crash: both retryable.
   */
  run(tenantId: string, expression: string, event: EventText): Promise<TransformResult> {
    if (this.closed) return Promise.reject(new TransformUnavailableError('transform pool is closed'));
    const queue = this.waiting.get(tenantId) ?? [];
    if (queue.length >= this.maxQueuedPerTenant) {
      return Promise.reject(
        new TransformBusyError(`transform: ${queue.length} of this tenant's transforms are waiting; retry later`),
      );
    }
    if (this.slots.size === 0) {
      this.bootFailures = 0;
      for (let i = 0; i < this.processes; i++) this.spawn();
    }
    return new Promise<TransformResult>((resolve, reject) => {
      queue.push({ tenantId, expression, event, resolve, reject });
      this.waiting.set(tenantId, queue);
      this.dispatch();
    });
  }

  /** Children, busy children, waiting transforms, and children replaced after a limit or a crash so far. */
  stats(): { processes: number; busy: number; waiting: number; replaced: number } {
    let busy = 0;
    for (const slot of this.slots) if (slot.running !== undefined) busy++;
    let waiting = 0;
    for (const queue of this.waiting.values()) waiting += queue.length;
    return { processes: this.slots.size, busy, waiting, replaced: this.replacedCount };
  }

  /** Process ids of the children, for measurements. */
  pids(): number[] {
    return [...this.slots].flatMap((slot) => (slot.child.pid === undefined ? [] : [slot.child.pid]));
  }

  /** Fails waiting and running transforms (retryable) and stops every child. */
  async close(): Promise<void> {
    this.closed = true;
    for (const queue of this.waiting.values())
      for (const job of queue) job.reject(new TransformUnavailableError('transform pool is closed'));
    this.waiting.clear();
    const exits: Promise<void>[] = [];
    for (const slot of this.slots) {
      this.settle(slot, new TransformUnavailableError('transform pool is closed'));
      if (slot.child.exitCode === null && slot.child.signalCode === null) {
        exits.push(new Promise((resolve) => slot.child.once('exit', () => resolve())));
        slot.child.kill('SIGKILL');
      }
    }
    await Promise.all(exits);
  }

  private spawn(): void {
    const child = forkChild(this.maxMemoryMb);
    const slot: Slot = { child, ready: false, booted: false, stderrTail: '' };
    this.slots.add(slot);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      slot.stderrTail = (slot.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    child.on('message', (message: unknown) => this.onMessage(slot, message));
    // A failed send or spawn: 'exit' follows (or the child never started, and 'exit' still fires).
    child.on('error', () => this.condemn(slot));
    child.on('exit', () => this.onExit(slot));
    // Idle children must not keep the service's process alive; a running transform's deadline timer does.
    child.unref();
    (child as unknown as { channel?: { unref(): void } }).channel?.unref();
    const setup: ChildSetup = { setup: { limits: this.limits } };
    child.send(setup, (err) => {
      if (err) this.condemn(slot);
    });
  }

  private onMessage(slot: Slot, message: unknown): void {
    if (message === CHILD_READY) {
      slot.ready = !this.closed;
      slot.booted = true;
      this.bootFailures = 0;
      this.dispatch();
      return;
    }
    const reply = message as ChildReply;
    if (slot.running === undefined || slot.running.id !== reply.id) return; // answered after its deadline
    if (reply.ok) this.settle(slot, undefined, reply.result);
    else this.settle(slot, new TransformFailedError(reply.message, reply.jsonataCode, reply.position));
    this.dispatch();
  }

  private onExit(slot: Slot): void {
    slot.ready = false;
    this.slots.delete(slot);
    this.settle(
      slot,
      OUT_OF_MEMORY.test(slot.stderrTail)
        ? new TransformFailedError(`transform: evaluation exceeded the memory limit of ${this.maxMemoryMb} MB`)
        : new TransformUnavailableError('transform process stopped unexpectedly'),
    );
    if (this.closed) return;
    this.replacedCount++;
    if (!slot.booted && ++this.bootFailures >= MAX_BOOT_FAILURES) {
      if (this.slots.size === 0) {
        for (const queue of this.waiting.values())
          for (const job of queue) job.reject(new TransformUnavailableError('transform processes fail to start'));
        this.waiting.clear();
      }
      return;
    }
    this.spawn();
    this.dispatch();
  }

  private condemn(slot: Slot): void {
    slot.ready = false;
    if (slot.child.exitCode === null && slot.child.signalCode === null) slot.child.kill('SIGKILL');
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.running !== undefined) continue;
      const job = this.nextJob();
      if (job === undefined) return;
      this.start(slot, job);
    }
  }

  /** The fewest-running tenant under its share of children, round robin among equals. */
  private nextJob(): Job | undefined {
    let chosen: string | undefined;
    let fewest = Number.POSITIVE_INFINITY;
    for (const tenantId of this.waiting.keys()) {
      const running = this.runningPerTenant.get(tenantId) ?? 0;
      if (running < this.perTenantProcesses && running < fewest) {
        chosen = tenantId;
        fewest = running;
      }
    }
    if (chosen === undefined) return undefined;
    const queue = this.waiting.get(chosen) ?? [];
    const job = queue.shift();
    this.waiting.delete(chosen);
    if (queue.length > 0) this.waiting.set(chosen, queue); // to the back of the round
    return job;
  }

  private start(slot: Slot, job: Job): void {
    const id = this.nextId++;
    const timer = setTimeout(() => this.expire(slot, id), this.hardDeadlineMs);
    slot.running = { job, id, timer };
    this.runningPerTenant.set(job.tenantId, (this.runningPerTenant.get(job.tenantId) ?? 0) + 1);
    const task: ChildTask = { id, expression: job.expression, event: job.event };
    slot.child.send(task, (err) => {
      if (err && slot.running?.id === id) {
        this.settle(slot, new TransformUnavailableError('transform process stopped unexpectedly'));
        this.condemn(slot);
      }
    });
  }

  private expire(slot: Slot, id: number): void {
    if (slot.running?.id !== id) return;
    this.settle(
      slot,
      new TransformFailedError(
        `transform: evaluation exceeded the time limit of ${this.timeoutMs} ms and was stopped; check for a loop, recursion or a huge value`,
      ),
    );
    this.condemn(slot); // the replacement is started on 'exit'
  }

  /** Ends the slot's running job, if any, with `err` or `result`. */
  private settle(slot: Slot, err: Error | undefined, result?: TransformResult): void {
    const running = slot.running;
    if (running === undefined) return;
    slot.running = undefined;
    clearTimeout(running.timer);
    const tenantId = running.job.tenantId;
    const left = (this.runningPerTenant.get(tenantId) ?? 1) - 1;
    if (left > 0) this.runningPerTenant.set(tenantId, left);
    else this.runningPerTenant.delete(tenantId);
    if (err !== undefined) running.job.reject(err);
    else running.job.resolve(result as TransformResult);
  }
}

/**
 * Starts a child on `transform-child`: the compiled `.js` beside this file, or, when running from TypeScript
 * sources (tests, `tsx`), the `.ts` file through tsx's require hook. The child gets an empty environment (tenant
 * code has no business with the service's secrets, and NODE_OPTIONS must not lift the heap cap) and none of this
 * process's flags.
 */
function forkChild(maxMemoryMb: number): ChildProcess {
  const extension = path.extname(__filename);
  const file = path.join(__dirname, `transform-child${extension}`);
  const execArgv = [
    `--max-old-space-size=${maxMemoryMb}`,
    // The young generation (3 semi-spaces) adds to the cap; a sixteenth of it per semi-space, 1 to 16 MB.
    `--max-semi-space-size=${Math.min(16, Math.max(1, Math.floor(maxMemoryMb / 16)))}`,
  ];
  if (extension !== '.js') execArgv.unshift('--require', require.resolve('tsx/cjs'));
  return fork(file, [], { execArgv, env: {}, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
}
