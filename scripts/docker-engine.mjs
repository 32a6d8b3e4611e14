#!/usr/bin/env node
// A Docker engine for the container test and for building the image by hand. Built-ins only.
//
//   node scripts/docker-engine.mjs start    start one unless an engine already answers; it keeps running
//   node scripts/docker-engine.mjs stop     stop the engine that `start` started (never any other)
//   node scripts/docker-engine.mjs status   say whether an engine answers
//
// The engine is Debian's docker.io as these machines can run it: `dockerd --iptables=false --bridge=none`, so
// containers use `--network host` (there is no bridge network). Storage: overlay2 where the kernel lets dockerd
// mount it, else vfs, which works everywhere but copies the whole file system for every layer and container (an
// image build takes about 10 minutes instead of 2); WSS_DOCKER_STORAGE_DRIVER picks one. The data root lives under
// .tools/cache/docker/<driver> (WSS_DOCKER_DATA_ROOT overrides it), so images survive between runs. An engine that
// already answers (DOCKER_HOST, or /var/run/docker.sock) is used as it is; with DOCKER_HOST set nothing is started.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { findOnPath, isExecutable } from './lib/tools.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

function files(root) {
  const dir = path.join(root, '.tools', 'cache', 'docker');
  return {
    dir,
    dataRoot: (driver) =>
      process.env.WSS_DOCKER_DATA_ROOT ? path.resolve(process.env.WSS_DOCKER_DATA_ROOT) : path.join(dir, driver),
    log: path.join(dir, 'dockerd.log'),
    // The pid of the dockerd this script started: `stop` signals that process and no other.
    startedPid: path.join(dir, 'started.pid'),
  };
}

/** The engine's version, or undefined when none answers. */
export function engineVersion() {
  const result = spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function findDockerd() {
  return findOnPath('dockerd') ?? ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((p) => isExecutable(p));
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure an engine answers. Resolves to `{ available: true, started }` (started: this call started it), or
 * `{ available: false, reason }` when none answers and none can be started here.
 */
export async function ensureDockerEngine(root = ROOT, log = () => {}) {
  if (!findOnPath('docker'))
    return { available: false, reason: 'no docker client on PATH (apt-get install docker.io)' };
  const version = engineVersion();
  if (version) return { available: true, started: false, version };
  if (process.env.DOCKER_HOST) {
    return { available: false, reason: `DOCKER_HOST=${process.env.DOCKER_HOST} does not answer` };
  }
  const dockerd = findDockerd();
  if (!dockerd) return { available: false, reason: 'no dockerd installed (apt-get install docker.io)' };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return { available: false, reason: 'no Docker engine answers, and starting dockerd needs root' };
  }
  const drivers = process.env.WSS_DOCKER_STORAGE_DRIVER ? [process.env.WSS_DOCKER_STORAGE_DRIVER] : ['overlay2', 'vfs'];
  const failures = [];
  for (const driver of drivers) {
    const started = await startDockerd(root, dockerd, driver, log);
    if (started.available) return started;
    failures.push(`${driver}: ${started.reason}`);
  }
  return { available: false, reason: `dockerd did not start:\n${failures.join('\n')}` };
}

async function startDockerd(root, dockerd, driver, log) {
  const { dir, dataRoot, log: logFile, startedPid } = files(root);
  mkdirSync(dataRoot(driver), { recursive: true });
  log(`starting dockerd (${driver}, no bridge; data root ${dataRoot(driver)}; log ${logFile})`);
  const logStart = existsSync(logFile) ? readFileSync(logFile).length : 0;
  const out = openSync(logFile, 'a');
  const child = spawn(
    dockerd,
    [
      `--storage-driver=${driver}`,
      '--iptables=false',
      '--ip-masq=false',
      '--bridge=none',
      `--data-root=${dataRoot(driver)}`,
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  let exited = false;
  child.once('exit', () => (exited = true));
  child.unref();
  mkdirSync(dir, { recursive: true });
  writeFileSync(startedPid, `${child.pid}\n`);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const version = engineVersion();
    if (version) return { available: true, started: true, version, driver };
    if (exited) break;
    await sleep(250);
  }
  if (!exited) {
    child.kill('SIGTERM');
    await new Promise((resolve) => (exited ? resolve() : child.once('exit', resolve)));
  }
  rmSync(startedPid, { force: true });
  const tail = readFileSync(logFile).subarray(logStart).toString('utf8').trim().split('\n').slice(-3).join('\n');
  return {
    available: false,
    reason: exited ? `exited at start:\n${tail}` : `no answer within ${START_TIMEOUT_MS / 1000} s`,
  };
}

/** Stops the dockerd that ensureDockerEngine started (and its containers); does nothing otherwise. */
export async function stopDockerEngine(root = ROOT, log = () => {}) {
  const { startedPid } = files(root);
  if (!existsSync(startedPid)) return false;
  const pid = Number(readFileSync(startedPid, 'utf8').trim());
  rmSync(startedPid, { force: true });
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return false;
  log(`stopping dockerd (pid ${pid})`);
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (alive(pid) && Date.now() < deadline) await sleep(200);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const say = (m) => console.error(`[docker] ${m}`);
  const command = process.argv[2];
  if (command === 'start') {
    const engine = await ensureDockerEngine(ROOT, say);
    if (!engine.available) {
      say(engine.reason);
      process.exit(1);
    }
    say(`engine ${engine.version} ${engine.started ? `started (${engine.driver})` : 'already running'}`);
  } else if (command === 'stop') {
    say((await stopDockerEngine(ROOT, say)) ? 'stopped' : 'no engine started by this script is running');
  } else if (command === 'status') {
    const version = engineVersion();
    say(version ? `engine ${version} answers` : 'no engine answers');
    process.exit(version ? 0 : 1);
  } else {
    console.error('usage: docker-engine.mjs start | stop | status');
    process.exit(2);
  }
}
