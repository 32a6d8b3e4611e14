import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startChild } from '../bench/children';
import type { BenchChild } from '../bench/children';
import { readProc } from '../bench/proc-sampler';
import { parseMetrics } from '../test/support/role-process';
import type { Scrape } from '../test/support/role-process';

/**
 * The service's three roles as separate processes, the real entry points built by `npm run build`
 * (`dist/src/main/<role>.js`, so the worker runs the prebuilt workflow bundle as in production). Each role's output
 * goes to `<logDir>/<role>.log`, appended across restarts. Only ever signals the children it started.
 */

export type RoleName = 'api' | 'consumer' | 'worker';
export const ROLES: readonly RoleName[] = ['api', 'consumer', 'worker'];

const ROOT = path.resolve(__dirname, '..');

/** Start-up guard: a healthy role starts in seconds; this only stops a broken harness from hanging. */
const START_TIMEOUT_MS = 300_000;

export class RoleSet {
  private readonly children = new Map<RoleName, BenchChild>();
  private readonly opsPorts = new Map<RoleName, number>();
  /** Extra environment per role for its next start (the clock fault sets libfaketime here). */
  readonly extraEnv = new Map<RoleName, NodeJS.ProcessEnv>();
  /** Exits nobody asked for: a role that died by itself is an error of the run. */
  readonly unexpectedExits: string[] = [];
  private readonly expected = new Set<BenchChild>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    readonly logDir: string,
  ) {
    for (const role of ROLES) {
      if (!existsSync(path.join(ROOT, 'dist', 'src', 'main', `${role}.js`))) {
        throw new Error('dist/ is missing: run `npm run build` (npm run chaos does)');
      }
    }
  }

  logFile(role: RoleName): string {
    return path.join(this.logDir, `${role}.log`);
  }

  pid(role: RoleName): number | undefined {
    return this.children.get(role)?.pid;
  }

  running(role: RoleName): boolean {
    const c = this.children.get(role);
    return c !== undefined && c.process.exitCode === null && c.process.signalCode === null;
  }

  /** Starts the role and waits until its /readyz answers 200. */
  async start(role: RoleName): Promise<void> {
    if (this.running(role)) return;
    const logFile = this.logFile(role);
    const offset = existsSync(logFile) ? statSync(logFile).size : 0;
    const child = startChild(
      role,
      path.join(ROOT, 'dist', 'src', 'main', `${role}.js`),
      { ...this.env, ...this.extraEnv.get(role) },
      this.logDir,
    );
    this.children.set(role, child);
    child.process.once('exit', (code, signal) => {
      if (!this.expected.has(child)) {
        this.unexpectedExits.push(`${role} (pid ${child.pid}) exited by itself: code ${code} signal ${signal}`);
      }
    });
    const port = await this.waitOpsPort(role, child, logFile, offset);
    this.opsPorts.set(role, port);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!this.running(role)) throw new Error(`${role} exited during start-up:\n${child.tail(30)}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // Not yet.
      }
      await sleep(250);
    }
    throw new Error(`${role} not ready within ${START_TIMEOUT_MS / 1000} s:\n${child.tail(30)}`);
  }

  private async waitOpsPort(role: RoleName, child: BenchChild, logFile: string, offset: number): Promise<number> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.process.exitCode !== null || child.process.signalCode !== null) {
        throw new Error(`${role} exited during start-up:\n${child.tail(30)}`);
      }
      const text = existsSync(logFile) ? readFileSync(logFile).subarray(offset).toString('utf8') : '';
      const line = text.split('\n').find((l) => l.includes('ops port listening'));
      if (line) return (JSON.parse(line) as { port: number }).port;
      await sleep(200);
    }
    throw new Error(`${role} printed no ops port within ${START_TIMEOUT_MS / 1000} s`);
  }

  /** SIGKILL: no drain, no acks (an OOM kill or a lost node). Resolves when it is gone. */
  async kill(role: RoleName): Promise<void> {
    const child = this.children.get(role);
    if (!child || !this.running(role)) return;
    this.expected.add(child);
    const exited = new Promise<void>((resolve) => child.process.once('exit', () => resolve()));
    child.process.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM and the service's own drain; SIGKILL only past a generous guard. */
  async terminate(role: RoleName): Promise<{ code: number | null }> {
    const child = this.children.get(role);
    if (!child || !this.running(role)) return { code: null };
    this.expected.add(child);
    const exited = new Promise<{ code: number | null }>((resolve) =>
      child.process.once('exit', (code) => resolve({ code })),
    );
    await child.stop(120_000);
    return exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all(ROLES.map((role) => this.terminate(role)));
  }

  async scrape(role: RoleName): Promise<Scrape | undefined> {
    const port = this.opsPorts.get(role);
    if (port === undefined || !this.running(role)) return undefined;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
      return parseMetrics(await res.text());
    } catch {
      return undefined;
    }
  }

  rssMb(role: RoleName): number | undefined {
    const pid = this.pid(role);
    return pid !== undefined && this.running(role) ? readProc(pid)?.rssMb : undefined;
  }

  /** Log lines (JSON) of a role that mention any of `needles`, the last `max`. */
  grep(role: RoleName, needles: readonly string[], max = 20): string[] {
    const file = this.logFile(role);
    if (!existsSync(file) || needles.length === 0) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => needles.some((n) => line.includes(n)))
      .slice(-max);
  }
}
