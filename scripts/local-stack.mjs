#!/usr/bin/env node
// Starts the real services the service needs (Redis and the Temporal dev server), runs a command against them,
// and stops them afterwards. Built-ins only.
//
//   node scripts/local-stack.mjs run [--ephemeral | --data-dir <dir>] -- <command...>
//
// Persistent mode (npm start): state under .data/ (or --data-dir: Temporal SQLite file, Redis AOF, local.env),
// fixed ports (WSS_LOCAL_REDIS_PORT, WSS_LOCAL_TEMPORAL_PORT, WSS_LOCAL_TEMPORAL_UI_PORT), Web UI on.
// Ephemeral mode (npm test, bench): a temp dir, free ports, no Web UI; everything is removed afterwards.
// When TEMPORAL_ADDRESS or REDIS_URL is set, that service is not started: the existing one is used.
//
// Stopping (Ctrl-C, SIGTERM): Redis and Temporal run in process groups of their own, so a terminal's Ctrl-C (which
// signals the whole foreground group) does not reach them. The command stays in this script's process group. The
// service exits at once on a second signal, so each Ctrl-C must reach it exactly once:
// - a SIGINT while this group is the terminal's foreground group came from the terminal (or from npm relaying the
//   same Ctrl-C): the command got it from the terminal itself, so it is not relayed;
// - any other signal (SIGTERM from `kill <pid>` or a supervisor, a SIGINT with no terminal) is relayed, each one.
// Redis and Temporal are stopped only after the command has exited, so a draining service can still record its
// work. A signal during start-up stops what was started and exits. (Only SIGKILL of this script leaves Redis and
// Temporal running; a later start then fails on their ports.) package.json's `start` line `exec`s this script: npm
// runs it with /bin/sh -c, and on Debian dash would otherwise stay in between and die at once on the Ctrl-C, so npm
// would return to the prompt while the drain still runs.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSupervisor, waitFor } from './lib/process-group.mjs';
import { findOnPath, findTemporal } from './lib/tools.mjs';

const USAGE = 'local-stack.mjs run [--ephemeral | --data-dir <dir>] -- <command...>';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const command = sep === -1 ? [] : argv.slice(sep + 1);
const { ephemeral, dataDirFlag } = (() => {
  try {
    return parseFlags(sep === -1 ? argv : argv.slice(0, sep));
  } catch (err) {
    console.error(`[stack] ${err.message}`);
    process.exit(2);
  }
})();
const supervisor = createSupervisor({ log, services: 'Redis and Temporal', stopTimeoutMs: 10_000 });

function parseFlags(args) {
  const parsed = { ephemeral: false, dataDirFlag: undefined };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === 'run') continue;
    else if (args[i] === '--ephemeral') parsed.ephemeral = true;
    else if (args[i] === '--data-dir' && args[i + 1]) parsed.dataDirFlag = path.resolve(args[++i]);
    else throw new Error(`unknown argument ${args[i]}; usage: ${USAGE}`);
  }
  if (parsed.ephemeral && parsed.dataDirFlag) throw new Error('--ephemeral and --data-dir exclude each other');
  return parsed;
}

function log(message) {
  console.log(`[stack] ${message}`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
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

async function startRedis(dataDir, port) {
  const server = findOnPath('redis-server');
  if (!server) throw new Error('redis-server not found; run `npm run bootstrap` or set REDIS_URL');
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dataDir,
    '--save',
    '',
    '--protected-mode',
    'yes',
  ];
  // The local run keeps data across restarts with AOF; tests throw everything away.
  args.push('--appendonly', ephemeral ? 'no' : 'yes');
  const child = supervisor.startChild('redis', server, args, path.join(dataDir, 'redis.log'));
  await waitFor(supervisor, 'redis-server', () => portOpen(port), 15_000, child);
  return `redis://127.0.0.1:${port}`;
}

async function startTemporal(dataDir, port, uiPort) {
  const temporal = findTemporal(root);
  if (!temporal) throw new Error('temporal CLI not found; run `npm run bootstrap` or set TEMPORAL_ADDRESS');
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--db-filename',
    path.join(dataDir, 'temporal.sqlite'),
    '--log-level',
    'warn',
    // WAL lets readers (visibility, UI) proceed while the history writer commits; synchronous=NORMAL with WAL
    // still survives a process crash (only an OS crash can lose the last commits).
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    '--search-attribute',
    'TenantId=Keyword',
    '--search-attribute',
    'EventId=Keyword',
    '--search-attribute',
    'EventType=Keyword',
    '--search-attribute',
    'EndpointId=KeywordList',
    '--search-attribute',
    'DeliveryStatus=Keyword',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    // One matching partition per task queue: on one node, more partitions only forward polls and tasks between
    // themselves (the server's default is 4). Same load, same window: about 8% less server CPU per delivery
    // (bench/results/*-default-partA.json against *-partB.json).
    '--dynamic-config-value',
    'matching.numTaskqueueReadPartitions=1',
    '--dynamic-config-value',
    'matching.numTaskqueueWritePartitions=1',
  ];
  // Tuning experiments (bench/README.md): more dynamic config for the dev server, `KEY=VALUE;KEY=VALUE`.
  for (const pair of (process.env.WSS_LOCAL_TEMPORAL_DYNAMIC_CONFIG ?? '').split(';').filter(Boolean)) {
    args.push('--dynamic-config-value', pair);
  }
  if (uiPort) args.push('--ui-port', String(uiPort), '--ui-disable-news-fetch');
  else args.push('--headless');
  const child = supervisor.startChild('temporal', temporal, args, path.join(dataDir, 'temporal.log'));
  const address = `127.0.0.1:${port}`;
  await waitFor(supervisor, 'temporal dev server', () => portOpen(port), 60_000, child);
  // The port opens before the namespace is served; wait until a real call succeeds.
  await waitFor(
    supervisor,
    'temporal namespace',
    () =>
      new Promise((resolve) => {
        const probe = spawn(
          temporal,
          ['operator', 'namespace', 'describe', '--namespace', 'default', '--address', address],
          { stdio: 'ignore' },
        );
        probe.on('exit', (code) => resolve(code === 0));
        probe.on('error', () => resolve(false));
      }),
    60_000,
    child,
  );
  return address;
}

/** Local-only secrets for `npm start`, generated once and kept in .data/local.env (git-ignored). */
function localSecrets(dataDir) {
  const file = path.join(dataDir, 'local.env');
  const values = {};
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      if (m) values[m[1]] = m[2];
    }
  }
  let changed = false;
  if (!values.WSS_ADMIN_TOKEN) {
    values.WSS_ADMIN_TOKEN = `wss_admin_${randomBytes(24).toString('base64url')}`;
    changed = true;
  }
  if (!values.WSS_MASTER_KEY) {
    values.WSS_MASTER_KEY = randomBytes(32).toString('base64');
    changed = true;
  }
  if (changed) {
    writeFileSync(
      file,
      Object.entries(values)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
      { mode: 0o600 },
    );
  }
  return values;
}

async function main() {
  if (command.length === 0) throw new Error(`usage: ${USAGE}`);
  const dataDir = ephemeral
    ? mkdtempSync(path.join(os.tmpdir(), 'wss-stack-'))
    : (dataDirFlag ?? path.join(root, '.data'));
  mkdirSync(dataDir, { recursive: true });
  const env = { ...process.env };
  try {
    if (!env.REDIS_URL) {
      const port = ephemeral ? await freePort() : Number(env.WSS_LOCAL_REDIS_PORT ?? 6390);
      env.REDIS_URL = await startRedis(dataDir, port);
      log(`redis ready at ${env.REDIS_URL}`);
    }
    if (!env.TEMPORAL_ADDRESS) {
      const port = ephemeral ? await freePort() : Number(env.WSS_LOCAL_TEMPORAL_PORT ?? 7233);
      const uiPort = ephemeral ? undefined : Number(env.WSS_LOCAL_TEMPORAL_UI_PORT ?? 8233);
      env.TEMPORAL_ADDRESS = await startTemporal(dataDir, port, uiPort);
      log(`temporal ready at ${env.TEMPORAL_ADDRESS}${uiPort ? ` (Web UI http://127.0.0.1:${uiPort})` : ''}`);
      if (uiPort) env.WSS_TEMPORAL_UI_URL = `http://127.0.0.1:${uiPort}`;
    }
    if (!ephemeral) {
      const secrets = localSecrets(dataDir);
      if (!env.WSS_ADMIN_TOKEN) {
        env.WSS_ADMIN_TOKEN = secrets.WSS_ADMIN_TOKEN;
        log(`admin token (local only, kept in ${path.join(dataDir, 'local.env')}): ${secrets.WSS_ADMIN_TOKEN}`);
      }
      env.WSS_MASTER_KEY ??= secrets.WSS_MASTER_KEY;
      // The local run delivers to receivers on this machine; production leaves the allowlist empty.
      env.WSS_EGRESS_ALLOW_CIDRS ??= '127.0.0.0/8,::1/128';
    }
    supervisor.checkSignals();
    process.exitCode = await supervisor.runCommand(command, env);
  } finally {
    await supervisor.stopAll();
    if (ephemeral) rmSync(dataDir, { recursive: true, force: true });
  }
}

supervisor.handleSignals();
main().catch(async (err) => {
  console.error(`[stack] ${err.message}`);
  await supervisor.stopAll();
  process.exit(1);
});
