import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A child process the bench started, with its output in a log file. */
export interface BenchChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /**
   * SIGTERM, then SIGKILL after `graceMs` (default 90 s: above the service's own drain deadline,
   * WSS_SHUTDOWN_GRACE_MS + 5 s, so a draining child ends by itself); resolves when the child has exited.
   */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of its log, for error reports. */
  tail(lines?: number): string;
}

/**
 * Starts `node --import tsx <script>` with `env`, stdout and stderr to `<logDir>/<name>.log`, and an IPC channel
 * when `ipc` is set. Only ever signals the child it created, by its own handle.
 */
export function startChild(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  logDir: string,
  ipc = false,
): BenchChild {
  const logFile = path.join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env,
    stdio: ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    process: child,
    pid: child.pid,
    logFile,
    async stop(graceMs = 90_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await exited;
      }
    },
    tail(lines = 20) {
      try {
        return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
}
