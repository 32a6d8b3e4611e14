import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './services';

/**
 * Throw-away Redis set-ups on loopback, started by the tests themselves with Debian's redis-server (and
 * redis-sentinel): a TLS-only server with ACL users, a Sentinel group, a Redis Cluster. Every process is ours,
 * tracked by pid and stopped by pid.
 */

const run = promisify(execFile);

function findBinary(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  for (const dir of ['/usr/bin', '/usr/sbin']) if (existsSync(path.join(dir, name))) return path.join(dir, name);
  return undefined;
}

function redisServerBinary(): string {
  const binary = findBinary('redis-server');
  if (!binary) throw new Error('redis-server is not installed: run `node scripts/bootstrap.mjs --test`');
  return binary;
}

/** Debian's redis-sentinel package; without it, redis-server's own sentinel mode (the same binary). */
function sentinelCommand(): { binary: string; extra: string[] } {
  const sentinel = findBinary('redis-sentinel');
  return sentinel ? { binary: sentinel, extra: [] } : { binary: redisServerBinary(), extra: ['--sentinel'] };
}

/**
 * A free loopback port below 55536 (Redis Cluster also binds port + 10000 for its bus). Another process can take
 * it before we bind; the callers fail with the server's log then, which names the port.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port: bound } = server.address() as net.AddressInfo;
        server.close(() => resolve(bound));
      });
    });
    if (port < 55_536) return port;
  }
  throw new Error('no free port below 55536');
}

export interface RedisProcess {
  readonly name: string;
  readonly port: number;
  readonly dir: string;
  readonly child: ChildProcess;
  /** The server's log so far (for failure messages). */
  log(): string;
  /** SIGKILL, no goodbye: a crashed master. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts one redis-server (or sentinel) process on `port` with `args`, and waits until the port accepts. */
async function startProcess(
  name: string,
  binary: string,
  args: string[],
  port: number,
  dir: string,
): Promise<RedisProcess> {
  mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, `${name}.log`);
  const child = spawn(binary, [...args, '--logfile', logFile], { cwd: dir, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-3000) : '');
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  try {
    await waitFor(
      `${name} on port ${port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited: ${log()}`);
        return portOpen(port);
      },
      15_000,
    );
  } catch (err) {
    await stopWith('SIGKILL');
    throw new Error(`${String(err)}\n${log()}`);
  }
  return {
    name,
    port,
    dir,
    child,
    log,
    kill: () => stopWith('SIGKILL'),
    stop: () => stopWith('SIGTERM'),
  };
}

/** Common flags: loopback only, nothing persisted. */
function baseArgs(port: number, dir: string): string[] {
  return ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no'];
}

function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TlsRedisOptions {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** ACL users `name → password` with full rights; the `default` user is switched off. */
  readonly users: Readonly<Record<string, string>>;
}

/**
 * A TLS-only redis-server (`--port 0`: no plain-text port at all) that demands a client certificate signed by
 * `caCert` and authenticates ACL users.
 */
export async function startTlsRedis(options: TlsRedisOptions): Promise<RedisProcess & { remove(): void }> {
  const dir = tempDir('wss-redis-tls-');
  const port = await freePort();
  const userArgs = Object.entries(options.users).flatMap(([name, password]) => [
    '--user',
    name,
    'on',
    `>${password}`,
    '~*',
    '&*',
    '+@all',
  ]);
  const args = [
    ...baseArgs(0, dir),
    '--tls-port',
    String(port),
    '--tls-cert-file',
    options.serverCert,
    '--tls-key-file',
    options.serverKey,
    '--tls-ca-cert-file',
    options.caCert,
    '--tls-auth-clients',
    'yes',
    '--user',
    'default',
    'off',
    ...userArgs,
  ];
  const server = await startProcess('redis-tls', redisServerBinary(), args, port, dir);
  return { ...server, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A plain-text redis-server whose `default` user needs `password` (`requirepass`), like a small managed Redis. */
export async function startPasswordRedis(password: string): Promise<RedisProcess & { remove(): void }> {
  const dir = tempDir('wss-redis-auth-');
  const port = await freePort();
  const server = await startProcess(
    'redis-auth',
    redisServerBinary(),
    [...baseArgs(port, dir), '--requirepass', password],
    port,
    dir,
  );
  return { ...server, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface SentinelGroup {
  readonly masterName: string;
  readonly servers: RedisProcess[];
  readonly sentinels: RedisProcess[];
  /** `host:port,...` of the sentinels, as REDIS_SENTINELS takes them. */
  readonly sentinelList: string;
  /** The port of the current master, as the sentinels see it. */
  masterPort(): Promise<number>;
  stop(): Promise<void>;
}

/** Asks a sentinel with redis-cli (no client library involved in the test's view of the truth). */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout.trim();
}

/**
 * One master, `replicas` replicas and three sentinels (quorum 2) watching it as `masterName`. Failure detection
 * is fast (1 s), so a killed master is replaced within seconds.
 */
export async function startSentinelGroup(masterName: string, replicas = 1): Promise<SentinelGroup> {
  const dir = tempDir('wss-redis-sentinel-');
  const servers: RedisProcess[] = [];
  const sentinels: RedisProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all([...sentinels, ...servers].map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const masterPort = await freePort();
    servers.push(await startProcess('master', redisServerBinary(), baseArgs(masterPort, dir), masterPort, dir));
    for (let i = 0; i < replicas; i++) {
      const port = await freePort();
      const args = [...baseArgs(port, dir), '--replicaof', '127.0.0.1', String(masterPort)];
      servers.push(await startProcess(`replica-${i}`, redisServerBinary(), args, port, dir));
    }
    await waitFor(
      'replicas in sync',
      async () => {
        const info = await redisCli(masterPort, 'INFO', 'replication');
        return (info.match(/state=online/g) ?? []).length === replicas;
      },
      20_000,
    );
    const { binary, extra } = sentinelCommand();
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = path.join(dir, `sentinel-${i}.conf`);
      // Sentinel rewrites its config file, so each one gets its own.
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 10000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      sentinels.push(await startProcess(`sentinel-${i}`, binary, [conf, ...extra], port, dir));
    }
    const group: SentinelGroup = {
      masterName,
      servers,
      sentinels,
      sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      async masterPort() {
        const reply = await redisCli(sentinels[0]!.port, 'SENTINEL', 'get-master-addr-by-name', masterName);
        return Number(reply.split('\n')[1]);
      },
      stop,
    };
    // Every sentinel knows the replicas and the other sentinels before a failover is asked of them.
    await waitFor(
      'sentinels ready',
      async () => {
        for (const sentinel of sentinels) {
          const info = await redisCli(sentinel.port, 'SENTINEL', 'master', masterName);
          const field = (name: string) => {
            const lines = info.split('\n');
            return lines[lines.indexOf(name) + 1];
          };
          if (Number(field('num-slaves')) !== replicas || Number(field('num-other-sentinels')) !== 2) return false;
        }
        return true;
      },
      30_000,
      250,
    );
    return group;
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface RedisClusterProcesses {
  readonly masters: RedisProcess[];
  /** `host:port,...` of the seed nodes, as REDIS_CLUSTER_NODES takes them. */
  readonly nodeList: string;
  stop(): Promise<void>;
}

/** Three masters, no replicas, made a cluster with `redis-cli --cluster create`, waited on until `cluster_state:ok`. */
export async function startRedisCluster(): Promise<RedisClusterProcesses> {
  const dir = tempDir('wss-redis-cluster-');
  const masters: RedisProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(masters.map((m) => m.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const nodeDir = path.join(dir, `node-${i}`);
      mkdirSync(nodeDir);
      const args = [
        ...baseArgs(port, nodeDir),
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        path.join(nodeDir, 'nodes.conf'),
        '--cluster-node-timeout',
        '5000',
      ];
      masters.push(await startProcess(`cluster-${i}`, redisServerBinary(), args, port, nodeDir));
    }
    const nodes = masters.map((m) => `127.0.0.1:${m.port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 60_000,
    });
    await waitFor(
      'cluster_state:ok on every node',
      async () => {
        for (const m of masters)
          if (!(await redisCli(m.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        return true;
      },
      30_000,
      250,
    );
    return { masters, nodeList: nodes.join(','), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
