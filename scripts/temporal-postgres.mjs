#!/usr/bin/env node
// A production-shaped Temporal for the benchmark: the real Temporal server (all four services in one process, as
// the temporalio/auto-setup image of docker-compose.yml runs it) on PostgreSQL, instead of the dev server on SQLite.
// Built-ins only.
//
//   node scripts/temporal-postgres.mjs install   builds the server and its SQL schema tool when missing
//   node scripts/temporal-postgres.mjs paths     prints the binaries' paths as JSON (exit 1 if one is missing)
//   node scripts/temporal-postgres.mjs run [--dynamic-config-value KEY=JSON]... [--log-level LEVEL] -- <command...>
//
// Binaries: `temporal-server` and `temporal-sql-tool`, built with Go from the module proxy (go.temporal.io/server at
// the version that tools/temporal-server/go.mod pins, the server the Temporal CLI's dev server embeds) into the
// git-ignored .tools/temporal-server-<hash>/, reused when present. A cold build takes minutes (see the README).
//
// `run`: an ephemeral PostgreSQL cluster (Debian's `postgresql`, installed with apt-get when missing: initdb +
// postgres, TCP on 127.0.0.1 only, a random password, run as the `postgres` user when this runs as root), the
// `temporal` and `temporal_visibility` databases created and migrated by temporal-sql-tool from the schemas embedded
// in the server (postgresql/v12), a server config shaped like the auto-setup image's (postgres12 plugin, 4 history
// shards, pools of 20 and 10 connections, SQL visibility), the server started, namespace `default` registered
// (retention 24 h), then the command with TEMPORAL_ADDRESS set. The service registers its own search attributes at
// start-up (src/infra/temporal.ts). Everything lives in a temp dir that is removed afterwards; every port is a free
// loopback port (the server's below 32768: see freePorts).
//
// For the benchmark, the command also gets TEMPORAL_SERVER_PID (the server) and TEMPORAL_POSTGRES_PID (the
// postmaster; its backends are its children) to sample their CPU.
//
// Stopping: as scripts/local-stack.mjs. PostgreSQL and the server run in process groups of their own; a Ctrl-C from
// the terminal reaches the command directly, any other signal is relayed to it; both services stop after the command
// has exited (the server first, then PostgreSQL with a fast shutdown).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSupervisor, tail, waitFor } from './lib/process-group.mjs';
import { TOOLS_DIR, findOnPath, findTemporal, isExecutable } from './lib/tools.mjs';

const USAGE =
  'temporal-postgres.mjs install | paths | run [--dynamic-config-value KEY=JSON]... [--log-level LEVEL] -- <command...>';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sources = path.join(root, 'tools', 'temporal-server');
const NAMESPACE = 'default';
/** What the temporalio/auto-setup image (docker-compose.yml) sets by default. */
const AUTO_SETUP = { historyShards: 4, maxConns: 20, visibilityMaxConns: 10, retention: '24h' };
/**
 * PostgreSQL's default is 100 connections; one server process holds a pool per service and store (up to
 * 4 × (20 + 10)), so a busy server would hit "too many clients". A production database is sized for its clients.
 */
const PG_MAX_CONNECTIONS = 200;

// ---------------------------------------------------------------------------------------------------- the build

/** The pinned server version, from tools/temporal-server/go.mod. */
export function serverVersion() {
  const gomod = readFileSync(path.join(sources, 'go.mod'), 'utf8');
  const match = /^\s*go\.temporal\.io\/server (v\S+)/m.exec(gomod);
  if (!match) throw new Error('tools/temporal-server/go.mod does not require go.temporal.io/server');
  return match[1];
}

function sourcesHash() {
  const hash = createHash('sha256');
  for (const file of readdirSync(sources).sort()) {
    if (file === 'go.mod' || file === 'go.sum' || file.endsWith('.go')) {
      hash
        .update(file)
        .update('\0')
        .update(readFileSync(path.join(sources, file)))
        .update('\0');
    }
  }
  return hash.digest('hex').slice(0, 12);
}

export function temporalServerPaths() {
  const dir = path.join(TOOLS_DIR(root), `temporal-server-${serverVersion()}-${sourcesHash()}`);
  return { server: path.join(dir, 'temporal-server'), sqlTool: path.join(dir, 'temporal-sql-tool') };
}

export function missingTemporalServer() {
  const p = temporalServerPaths();
  return [p.server, p.sqlTool].filter((f) => !isExecutable(f)).map((f) => path.basename(f));
}

function findGo() {
  return findOnPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

/**
 * Builds both binaries when one is missing, into a temp dir renamed into place (a half-built tool is never
 * "present"). Low priority: the machine is shared. Returns the paths; throws with Go's output on failure.
 */
export function installTemporalServer(log = console.log) {
  const p = temporalServerPaths();
  if (missingTemporalServer().length === 0) return p;
  const go = findGo();
  if (!go) throw new Error('Go (>= 1.26.8) is needed to build the Temporal server (go.temporal.io/server)');
  const dir = path.dirname(p.server);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const started = Date.now();
  log(`building the Temporal server ${serverVersion()} and temporal-sql-tool (Go module proxy) into ${dir}/`);
  log('a cold build (empty Go build cache) takes several minutes on 2 cores');
  try {
    const targets = [
      ['temporal-server', 'go.temporal.io/server/cmd/server'],
      ['temporal-sql-tool', 'go.temporal.io/server/cmd/tools/sql'],
    ];
    for (const [name, pkg] of targets) {
      const result = spawnSync('nice', ['-n', '15', go, 'build', '-trimpath', '-o', path.join(tmp, name), pkg], {
        cwd: sources,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      if (result.status !== 0) {
        throw new Error(`go build ${pkg} failed:\n${result.stderr || result.error?.message}`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`built in ${Math.round((Date.now() - started) / 1000)} s`);
  return p;
}

// ------------------------------------------------------------------------------------------------------ the run

// PostgreSQL does a "smart" shutdown on SIGTERM, which waits for clients: SIGINT is its fast shutdown. The server
// drains and exits on SIGTERM.
const supervisor = createSupervisor({
  log,
  services: 'Temporal and PostgreSQL',
  stopTimeoutMs: 15_000,
  stopSignal: (name) => (name === 'postgres' ? 'SIGINT' : 'SIGTERM'),
});

function log(message) {
  console.log(`[temporal-pg] ${message}`);
}

function parseRunFlags(args) {
  const parsed = { dynamicConfig: [], logLevel: 'warn' };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === 'run') continue;
    if (args[i] === '--dynamic-config-value' && args[i + 1]) {
      const m = /^([\w.]+)=(.+)$/.exec(args[++i]);
      if (!m) throw new Error(`--dynamic-config-value wants KEY=JSON, got ${args[i]}`);
      let value;
      try {
        value = JSON.parse(m[2]);
      } catch {
        throw new Error(`--dynamic-config-value ${m[1]}: ${m[2]} is not JSON (strings need quotes)`);
      }
      parsed.dynamicConfig.push([m[1], value]);
    } else if (args[i] === '--log-level' && args[i + 1]) parsed.logLevel = args[++i];
    else throw new Error(`unknown argument ${args[i]}; usage: ${USAGE}`);
  }
  return parsed;
}

/** Whether `port` can be bound on 127.0.0.1 now. */
async function bindable(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * `count` distinct free loopback ports below 32768: the server records its ports in PostgreSQL's
 * cluster_membership.rpc_port, a smallint, so the kernel's ephemeral range (32768 and up) fails there with "value out
 * of range for type smallint". Random picks in 20000-32767, each checked by binding it.
 */
async function freePorts(count) {
  const ports = new Set();
  for (let tries = 0; ports.size < count; tries++) {
    if (tries > 1000) throw new Error('no free loopback ports in 20000-32767');
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    if (!ports.has(port) && (await bindable(port))) ports.add(port);
  }
  return [...ports];
}

async function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function findPostgres() {
  const found = locatePostgres();
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && findOnPath('apt-get')) {
    log('installing PostgreSQL (apt-get install postgresql)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'];
    if (spawnSync('apt-get', install, { stdio: 'inherit', env }).status !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      spawnSync('apt-get', install, { stdio: 'inherit', env });
    }
  }
  const installed = locatePostgres();
  if (installed) return installed;
  throw new Error(
    'PostgreSQL server binaries (initdb, postgres) not found: apt-get install -y --no-install-recommends postgresql',
  );
}

/** initdb and postgres on PATH, else the newest /usr/lib/postgresql/<major>/bin. */
function locatePostgres() {
  const onPath = ['initdb', 'postgres'].map((n) => findOnPath(n));
  if (onPath.every(Boolean)) return { initdb: onPath[0], postgres: onPath[1] };
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base)
    ? readdirSync(base)
        .filter((d) => /^\d+$/.test(d))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const major of majors) {
    const bin = path.join(base, major, 'bin');
    if (isExecutable(path.join(bin, 'initdb')) && isExecutable(path.join(bin, 'postgres'))) {
      return { initdb: path.join(bin, 'initdb'), postgres: path.join(bin, 'postgres') };
    }
  }
  return undefined;
}

/** PostgreSQL refuses to run as root: then it runs as the `postgres` user (Debian's package creates it). */
function postgresUser() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root, and there is no `postgres` user to run PostgreSQL as (Debian: postgresql-15)');
  }
}

async function startPostgres(dataDir, port, password) {
  const bins = findPostgres();
  const user = postgresUser();
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  const pgData = path.join(dataDir, 'pgdata');
  const pwFile = path.join(dataDir, 'pg.pw');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (user) chownSync(pwFile, user.uid, user.gid);
  mkdirSync(pgData, { mode: 0o700 });
  if (user) chownSync(pgData, user.uid, user.gid);
  const init = spawnSync(
    bins.initdb,
    [
      '--pgdata',
      pgData,
      '--username',
      'temporal',
      '--pwfile',
      pwFile,
      '--auth-host',
      'scram-sha-256',
      '--auth-local',
      'reject',
      '--encoding',
      'UTF8',
      '--locale',
      'C',
    ],
    { encoding: 'utf8', ...asUser },
  );
  rmSync(pwFile, { force: true });
  if (init.status !== 0) throw new Error(`initdb failed:\n${init.stderr || init.error?.message}`);
  // Durable as a production database: fsync and synchronous_commit stay on (PostgreSQL's defaults).
  const logFile = path.join(dataDir, 'postgres.log');
  writeFileSync(logFile, '');
  if (user) chownSync(logFile, user.uid, user.gid);
  const child = supervisor.startChild(
    'postgres',
    bins.postgres,
    [
      '-D',
      pgData,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `port=${port}`,
      '-c',
      'unix_socket_directories=',
      '-c',
      `max_connections=${PG_MAX_CONNECTIONS}`,
    ],
    logFile,
    asUser,
  );
  await waitFor(supervisor, 'postgres', () => portOpen(port), 30_000, child);
  return child;
}

function sqlTool(sqlToolBin, port, password, database, args) {
  const result = spawnSync(
    sqlToolBin,
    [
      '--plugin',
      'postgres12',
      '--endpoint',
      '127.0.0.1',
      '--port',
      String(port),
      '--user',
      'temporal',
      '--database',
      database,
      ...args,
    ],
    { encoding: 'utf8', env: { ...process.env, SQL_PASSWORD: password } },
  );
  if (result.status !== 0) {
    throw new Error(`temporal-sql-tool ${args[0]} (${database}) failed:\n${result.stderr || result.stdout}`);
  }
}

/** What auto-setup does: create each database, set up versioning at 0.0, then migrate to the newest schema. */
function setupSchemas(sqlToolBin, port, password) {
  for (const [database, schema] of [
    ['temporal', 'postgresql/v12/temporal'],
    ['temporal_visibility', 'postgresql/v12/visibility'],
  ]) {
    sqlTool(sqlToolBin, port, password, database, ['create-database']);
    sqlTool(sqlToolBin, port, password, database, ['setup-schema', '-v', '0.0']);
    sqlTool(sqlToolBin, port, password, database, ['update-schema', '--schema-name', schema]);
  }
}

function yamlString(value) {
  return JSON.stringify(String(value));
}

/** The server config: docker.yaml of the auto-setup image with DB=postgres12 and its defaults, on free ports. */
function serverConfig({ pgPort, password, ports, logLevel, dynamicConfigFile }) {
  const [
    grpc,
    http,
    frontendMembership,
    history,
    historyMembership,
    matching,
    matchingMembership,
    worker,
    workerMembership,
  ] = ports;
  const datastore = (database, maxConns) => `
      sql:
        pluginName: "postgres12"
        databaseName: ${yamlString(database)}
        connectAddr: "127.0.0.1:${pgPort}"
        connectProtocol: "tcp"
        user: "temporal"
        password: ${yamlString(password)}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: "1h"`;
  const service = (grpcPort, membershipPort, extra = '') => `
    rpc:
      grpcPort: ${grpcPort}
      membershipPort: ${membershipPort}
      bindOnIP: "127.0.0.1"${extra}`;
  return `# Written by scripts/temporal-postgres.mjs for one run.
log:
  stdout: true
  level: ${yamlString(logLevel)}

persistence:
  numHistoryShards: ${AUTO_SETUP.historyShards}
  defaultStore: default
  visibilityStore: visibility
  datastores:
    default:${datastore('temporal', AUTO_SETUP.maxConns)}
    visibility:${datastore('temporal_visibility', AUTO_SETUP.visibilityMaxConns)}

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  pprof:
    port: 0

services:
  frontend:${service(grpc, frontendMembership, `\n      httpPort: ${http}`)}
  matching:${service(matching, matchingMembership)}
  history:${service(history, historyMembership)}
  worker:${service(worker, workerMembership)}

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:${grpc}"
      httpAddress: "127.0.0.1:${http}"

dcRedirectionPolicy:
  policy: "noop"

dynamicConfigClient:
  filepath: ${yamlString(dynamicConfigFile)}
  pollInterval: "60s"
`;
}

function dynamicConfigYaml(values) {
  const lines = ['# Written by scripts/temporal-postgres.mjs: --dynamic-config-value flags (none: server defaults).'];
  for (const [key, value] of values) lines.push(`${key}:`, `  - value: ${JSON.stringify(value)}`);
  return `${lines.join('\n')}\n`;
}

/** Runs the Temporal CLI against the server; resolves to whether it exited 0. */
function cli(temporal, args) {
  return new Promise((resolve) => {
    const probe = spawn(temporal, args, { stdio: 'ignore' });
    probe.on('exit', (code) => resolve(code === 0));
    probe.on('error', () => resolve(false));
  });
}

async function startTemporal(dataDir, paths, pgPort, password, flags) {
  const temporalCli = findTemporal(root);
  if (!temporalCli) throw new Error('temporal CLI not found (it registers the namespace); run `npm run bootstrap`');
  const ports = await freePorts(9);
  const configDir = path.join(dataDir, 'config');
  mkdirSync(configDir, { mode: 0o700 });
  const dynamicConfigFile = path.join(configDir, 'dynamicconfig.yaml');
  writeFileSync(dynamicConfigFile, dynamicConfigYaml(flags.dynamicConfig));
  writeFileSync(
    path.join(configDir, 'wss.yaml'),
    serverConfig({ pgPort, password, ports, logLevel: flags.logLevel, dynamicConfigFile }),
    { mode: 0o600 },
  );
  const child = supervisor.startChild(
    'temporal-server',
    paths.server,
    ['--root', dataDir, '--config', 'config', '--env', 'wss', '--allow-no-auth', 'start'],
    path.join(dataDir, 'temporal.log'),
  );
  const address = `127.0.0.1:${ports[0]}`;
  await waitFor(supervisor, 'temporal-server', () => portOpen(ports[0]), 120_000, child);
  // The frontend answers before the namespace exists; the server may refuse it until its services have joined.
  await waitFor(
    supervisor,
    `namespace ${NAMESPACE}`,
    async () =>
      (await cli(temporalCli, ['operator', 'namespace', 'describe', '--namespace', NAMESPACE, '--address', address])) ||
      cli(temporalCli, [
        'operator',
        'namespace',
        'create',
        '--namespace',
        NAMESPACE,
        '--retention',
        AUTO_SETUP.retention,
        '--address',
        address,
      ]),
    120_000,
    child,
  );
  // A new namespace reaches the services' caches within their refresh interval (2 s): wait until a call that needs
  // it in the frontend's cache succeeds.
  await waitFor(
    supervisor,
    `namespace ${NAMESPACE} in the server's cache`,
    () => cli(temporalCli, ['workflow', 'list', '--namespace', NAMESPACE, '--limit', '1', '--address', address]),
    60_000,
    child,
  );
  return { child, address };
}

async function run(argv) {
  const sep = argv.indexOf('--');
  const command = sep === -1 ? [] : argv.slice(sep + 1);
  const flags = parseRunFlags(sep === -1 ? argv : argv.slice(0, sep));
  if (command.length === 0) throw new Error(`usage: ${USAGE}`);
  const paths = installTemporalServer(log);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'wss-temporal-pg-'));
  // The postgres user must reach its data dir inside this one; nothing else here is readable by others.
  chmodSync(dataDir, 0o711);
  try {
    const password = randomBytes(18).toString('base64url');
    const [pgPort] = await freePorts(1);
    const started = Date.now();
    const postgres = await startPostgres(dataDir, pgPort, password);
    log(`postgres ready on 127.0.0.1:${pgPort} (pid ${postgres.pid})`);
    setupSchemas(paths.sqlTool, pgPort, password);
    log('schemas temporal and temporal_visibility set up (temporal-sql-tool, postgresql/v12)');
    const temporal = await startTemporal(dataDir, paths, pgPort, password, flags);
    log(
      `temporal-server ${serverVersion()} ready at ${temporal.address} (pid ${temporal.child.pid}), ` +
        `namespace ${NAMESPACE}, in ${((Date.now() - started) / 1000).toFixed(1)} s; logs in ${dataDir}`,
    );
    supervisor.checkSignals();
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_SERVER_PID: String(temporal.child.pid),
      TEMPORAL_POSTGRES_PID: String(postgres.pid),
    };
    process.exitCode = await supervisor.runCommand(command, env);
  } catch (err) {
    for (const { name, logFile } of supervisor.started()) {
      const lines = tail(logFile);
      if (lines) console.error(`[temporal-pg] last lines of ${name}'s log:\n${lines}`);
    }
    throw err;
  } finally {
    await supervisor.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const subcommand = argv[0];
  if (subcommand === 'install') {
    try {
      installTemporalServer(log);
    } catch (err) {
      console.error(`[temporal-pg] ${err.message}`);
      process.exit(1);
    }
  } else if (subcommand === 'paths') {
    const missing = missingTemporalServer();
    console.log(JSON.stringify({ version: serverVersion(), ...temporalServerPaths(), missing }));
    process.exit(missing.length === 0 ? 0 : 1);
  } else if (subcommand === 'run') {
    supervisor.handleSignals();
    run(argv.slice(1)).catch(async (err) => {
      console.error(`[temporal-pg] ${err.message}`);
      await supervisor.stopAll();
      process.exit(1);
    });
  } else {
    console.error(`usage: ${USAGE}`);
    process.exit(2);
  }
}
