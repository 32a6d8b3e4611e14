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
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
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
const children = [];
/** Signals received so far; `signalReceived` is set by the first one. */
let signalsReceived = 0;
let signalReceived;
let commandChild;

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

async function waitFor(what, check, timeoutMs, child) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (signalReceived) throw new Error(`${signalReceived} during start-up: stopping`);
    if (child && hasExited(child)) throw new Error(`${what} exited with code ${child.exitCode ?? child.signalCode}`);
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`${what} did not become ready within ${timeoutMs / 1000}s`);
}

function hasExited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

/** A service in a process group of its own (detached), so only stopAll() ever signals it. */
function startChild(name, cmd, args, logFile) {
  const out = openSync(logFile, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  const exited = new Promise((resolve) => child.once('exit', () => resolve(true)));
  children.push({ name, child, exited });
  return child;
}

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
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
  const child = startChild('redis', server, args, path.join(dataDir, 'redis.log'));
  await waitFor('redis-server', () => portOpen(port), 15_000, child);
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
  const child = startChild('temporal', temporal, args, path.join(dataDir, 'temporal.log'));
  const address = `127.0.0.1:${port}`;
  await waitFor('temporal dev server', () => portOpen(port), 60_000, child);
  // The port opens before the namespace is served; wait until a real call succeeds.
  await waitFor(
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

async function stopAll() {
  while (children.length > 0) {
    const { name, child, exited } = children.pop();
    if (hasExited(child)) continue;
    log(`stopping ${name}`);
    signalGroup(child, 'SIGTERM');
    // An unref'd timer: once everything has stopped, nothing keeps this process waiting for it.
    const stopped = await Promise.race([exited, sleep(10_000, false, { ref: false })]);
    if (!stopped) {
      log(`${name} did not stop; killing`);
      signalGroup(child, 'SIGKILL');
      await exited;
    }
  }
}

function onSignal(signal) {
  signalsReceived += 1;
  signalReceived ??= signal;
  if (!commandChild) return; // Start-up is under way: it notices signalReceived and stops.
  if (hasExited(commandChild)) return; // Already stopping Redis and Temporal.
  if (signal === 'SIGINT' && inTerminalForeground()) {
    if (signalsReceived === 1) log(`${signal}: waiting for the command to stop; Redis and Temporal stop after it`);
    return; // The terminal signalled the command as well.
  }
  log(
    signalsReceived === 1
      ? `${signal}: relayed; waiting for the command to stop; Redis and Temporal stop after it`
      : `${signal} again: relayed (the command exits at once)`,
  );
  commandChild.kill(signal);
}

/**
 * Whether this process's group is the foreground group of its controlling terminal: then a SIGINT is a Ctrl-C that
 * the terminal sent to every process of the group, the command included. Linux: /proc/self/stat; elsewhere `ps`.
 */
function inTerminalForeground() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // pid (comm) state ppid pgrp session tty_nr tpgid ...: comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(fields[2]);
    const tpgid = Number(fields[5]);
    return tpgid > 0 && tpgid === pgrp;
  } catch {
    try {
      const [pgid, tpgid] = execFileSync('ps', ['-o', 'pgid=,tpgid=', '-p', String(process.pid)], { encoding: 'utf8' })
        .trim()
        .split(/\s+/)
        .map(Number);
      return tpgid > 0 && tpgid === pgid;
    } catch {
      return false;
    }
  }
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
    if (signalReceived) throw new Error(`${signalReceived} during start-up: stopping`);
    const [cmd, ...cmdArgs] = command;
    const child = spawn(cmd, cmdArgs, { stdio: 'inherit', env });
    const code = new Promise((resolve) => {
      child.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0)));
      child.once('error', (err) => {
        log(`could not run ${cmd}: ${err.message}`);
        resolve(127);
      });
    });
    commandChild = child;
    process.exitCode = await code;
  } finally {
    await stopAll();
    if (ephemeral) rmSync(dataDir, { recursive: true, force: true });
  }
}

process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
main().catch(async (err) => {
  console.error(`[stack] ${err.message}`);
  await stopAll();
  process.exit(1);
});
