import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from './services';

/**
 * The service's real entry points (`src/main/<role>.ts`) as child processes, the way a pod runs them: each with
 * its own environment and ops port. Only ever signals the children it started, by their own handles.
 */

const ROOT = path.resolve(__dirname, '..', '..');
/** Lines kept per child: enough for an error report, bounded for a long burst. */
const MAX_LINES = 5000;

export type Role = 'worker' | 'consumer' | 'api';

export interface RoleProcess {
  readonly name: string;
  readonly process: ChildProcess;
  /** What it printed (JSON log lines), the last {@link MAX_LINES}. */
  readonly output: string[];
  /** Resolves with how it ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether it has not exited yet. */
  running(): boolean;
  tail(lines?: number): string;
}

const started = new Set<RoleProcess>();

/** Starts `node --import tsx src/main/<role>.ts` with exactly `env`. */
export function startRole(role: Role, name: string, env: NodeJS.ProcessEnv): RoleProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', `src/main/${role}.ts`], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      output.push(...lines.filter(Boolean));
      if (output.length > MAX_LINES) output.splice(0, output.length - MAX_LINES);
    });
  }
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    }),
  );
  const handle: RoleProcess = {
    name,
    process: child,
    output,
    exited,
    running: () => !ended,
    tail: (lines = 20) => output.slice(-lines).join('\n'),
  };
  started.add(handle);
  void exited.then(() => started.delete(handle));
  return handle;
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Resolves with how it ended. */
export async function stopRole(
  child: RoleProcess,
  graceMs = 60_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.running()) child.process.kill('SIGTERM');
  const done = await Promise.race([child.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) child.process.kill('SIGKILL');
  return child.exited;
}

/** SIGKILL: no drain, no acks, no goodbye (what an OOM kill or a lost node does). */
export async function killRole(child: RoleProcess): Promise<void> {
  if (child.running()) child.process.kill('SIGKILL');
  await child.exited;
}

/** Stops every role process still running (a suite's `after`, so a failed test leaves nothing behind). */
export async function stopAllRoles(graceMs = 15_000): Promise<void> {
  await Promise.all([...started].map((child) => stopRole(child, graceMs)));
}

/** The ops port the role bound (started with WSS_OPS_PORT=0), from its start-up log line. */
export async function opsPortOf(child: RoleProcess, timeoutMs = 180_000): Promise<number> {
  const port = await waitFor(
    `${child.name}'s ops port`,
    () => {
      const line = child.output.find((l) => l.includes('ops port listening'));
      if (line) return (JSON.parse(line) as { port: number }).port;
      return child.running() ? undefined : -1;
    },
    timeoutMs,
    100,
  );
  if (port < 0) assert.fail(`${child.name} exited:\n${child.tail()}`);
  return port;
}

/** Waits for `/readyz` to answer 200; fails at once if the process exits. */
export async function waitReady(child: RoleProcess, opsPort: number, timeoutMs = 180_000): Promise<void> {
  const state = await waitFor(
    `${child.name} ready`,
    async () => {
      if (!child.running()) return 'exited';
      const res = await fetch(`http://127.0.0.1:${opsPort}/readyz`, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      return res.status === 200 ? 'ready' : undefined;
    },
    timeoutMs,
    250,
  );
  if (state === 'exited') assert.fail(`${child.name} exited:\n${child.tail()}`);
}

/** One scrape of a Prometheus text page. */
export interface Scrape {
  /** The sum of every sample of `name` whose labels include `labels` (0 when there is none). */
  sum(name: string, labels?: Readonly<Record<string, string>>): number;
  /** The single sample of `name` (a gauge without labels), or undefined when the page has none. */
  value(name: string): number | undefined;
}

/** Scrapes `/metrics` of an ops port. */
export async function scrape(opsPort: number): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${opsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200, `GET /metrics on ${opsPort}`);
  return parseMetrics(await res.text());
}

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses the Prometheus text format (the subset prom-client writes: no timestamps, quoted label values). */
export function parseMetrics(text: string): Scrape {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (key !== undefined && value !== undefined) labels[key] = value;
    }
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  const matching = (name: string, labels: Readonly<Record<string, string>> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    sum: (name, labels) => matching(name, labels).reduce((total, s) => total + s.value, 0),
    value: (name) => {
      const found = matching(name);
      assert.ok(found.length <= 1, `${name} has ${found.length} samples`);
      return found[0]?.value;
    },
  };
}
