import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { verifyWssRequest } from '../support/independent-verifier';
import { startReceiver } from '../support/receiver';
import type { Receiver } from '../support/receiver';
import { serviceAddresses, uniqueName, waitFor } from '../support/services';

/**
 * The container image, built and run for real: scripts/local-base-image.sh makes the base from a debootstrap of
 * Debian (no registry is reachable here), `docker build` makes the image from the repo's Dockerfile on it, and every
 * role runs as a container on the host network, read-only and as the image's own user, against the Redis and
 * Temporal that the test run started on the host. Skipped only where no Docker engine answers or can start.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const IMAGE = 'webhook-sender:test';
const BUILD_TIMEOUT_MS = 30 * 60_000;
const STARTUP_MS = 180_000;
const DELIVERY_MS = 120_000;
const RUN_ID = uniqueName('img');
const ROLES = ['api', 'worker', 'consumer', 'all-in-one'] as const;
type Role = (typeof ROLES)[number];

interface Result {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command without blocking the event loop (the receiver answers from this process meanwhile). */
async function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Result> {
  const child = spawn(command, args, { cwd: ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const status = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  }).finally(() => clearTimeout(timer));
  return { status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

async function docker(args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  return run('docker', args, options);
}

/** Like docker(), but a non-zero exit fails the test with docker's own message. */
async function dockerOk(args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  const result = await docker(args, options);
  assert.equal(result.status, 0, `docker ${args[0] ?? ''} failed:\n${result.stderr.slice(-4000)}`);
  return result.stdout.trim();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function log(message: string): void {
  process.stdout.write(`# [container] ${message}\n`);
}

interface Container {
  readonly role: Role;
  readonly name: string;
  readonly opsPort: number;
  readonly apiPort: number;
  readonly env: Record<string, string>;
}

/** One isolated service instance: its own keys, stream, group, task queue and secrets. */
function stackEnv(label: string): Record<string, string> {
  const { redisUrl, temporalAddress } = serviceAddresses();
  const id = `${RUN_ID}_${label}`.replace(/-/g, '_');
  return {
    REDIS_URL: redisUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    WSS_KEY_PREFIX: id,
    WSS_STREAM: `${id}:events`,
    WSS_CONSUMER_GROUP: `${id}-group`,
    WSS_CONSUMER_NAME: `${id}-consumer`,
    WSS_TASK_QUEUE: `${id}-queue`,
    WSS_ADMIN_TOKEN: `admin_${randomBytes(16).toString('hex')}`,
    WSS_MASTER_KEY: randomBytes(32).toString('base64'),
    // The containers share the host's network: bind to loopback (the image's default is 0.0.0.0) and let the
    // worker deliver to the test's receiver there.
    WSS_OPS_HOST: '127.0.0.1',
    WSS_API_HOST: '127.0.0.1',
    WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
    WSS_CONSUMER_BLOCK_MS: '200',
    WSS_LOG_LEVEL: 'info',
  };
}

/**
 * `docker run` as a Kubernetes pod would run it: read-only root file system, every capability dropped, no
 * privilege escalation, the image's own user (no --user), and no writable mount at all (not even /tmp). The
 * variables go by name only (`-e NAME`), so no secret appears on a command line.
 */
async function startContainer(role: Role, env: Record<string, string>): Promise<Container> {
  const opsPort = await freePort();
  const apiPort = await freePort();
  const name = `${RUN_ID}-${role}`;
  const all = { ...env, WSS_OPS_PORT: String(opsPort), WSS_API_PORT: String(apiPort) };
  await dockerOk(
    [
      'run',
      '--detach',
      '--name',
      name,
      '--label',
      `wss-test=${RUN_ID}`,
      '--network',
      'host',
      '--read-only',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      ...Object.keys(all).flatMap((k) => ['-e', k]),
      IMAGE,
      role,
    ],
    { env: { ...process.env, ...all } },
  );
  return { role, name, opsPort, apiPort, env: all };
}

async function logsOf(container: Container): Promise<string> {
  const result = await docker(['logs', '--tail', '40', container.name]);
  return `${result.stdout}${result.stderr}`;
}

async function runningState(container: Container): Promise<string> {
  return dockerOk(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', container.name]);
}

/** Waits for 200 on `/readyz`; fails at once, with the container's log, if it stops. */
async function waitReady(container: Container): Promise<{ status: string; checks: Record<string, string> }> {
  const outcome = await waitFor(
    `${container.role} /readyz`,
    async () => {
      const state = await runningState(container);
      if (!state.startsWith('running')) return { exited: state };
      const res = await fetch(`http://127.0.0.1:${container.opsPort}/readyz`, { signal: AbortSignal.timeout(5000) });
      return res.status === 200
        ? { body: (await res.json()) as { status: string; checks: Record<string, string> } }
        : undefined;
    },
    STARTUP_MS,
    500,
  );
  if ('exited' in outcome)
    assert.fail(`${container.role} container stopped (${outcome.exited}):\n${await logsOf(container)}`);
  return outcome.body;
}

async function api(container: Container, method: string, route: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${container.apiPort}${route}`, {
    method,
    headers: { authorization: `Bearer ${container.env.WSS_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the container image', () => {
  let skipReason: string | undefined;
  let engine: { stop(): Promise<unknown> } | undefined;
  const containers = new Map<Role, Container>();
  let receiver: Receiver;
  let redis: Redis;

  before(async () => {
    const engines = (await import(path.join(ROOT, 'scripts', 'docker-engine.mjs'))) as {
      ensureDockerEngine(
        root: string,
        log: (m: string) => void,
      ): Promise<{ available: true; started: boolean; version: string } | { available: false; reason: string }>;
      stopDockerEngine(root: string, log: (m: string) => void): Promise<boolean>;
    };
    const ready = await engines.ensureDockerEngine(ROOT, log);
    if (!ready.available) {
      skipReason = `no Docker engine can start here: ${ready.reason}`;
      log(`SKIPPED: ${skipReason}`);
      return;
    }
    if (ready.started) engine = { stop: () => engines.stopDockerEngine(ROOT, log) };
    log(`Docker engine ${ready.version}${ready.started ? ' (started by this test)' : ''}`);

    // The script the README gives: the Debian base images (cached), then the Dockerfile on them.
    const started = Date.now();
    const build = await run(path.join(ROOT, 'scripts', 'docker-build.sh'), [IMAGE], { timeoutMs: BUILD_TIMEOUT_MS });
    assert.equal(build.status, 0, `scripts/docker-build.sh failed:\n${build.stderr.slice(-4000)}`);
    for (const line of build.stderr.split('\n').filter((l) => l.startsWith('[docker-build]'))) log(line);
    log(`base images and image ready in ${Math.round((Date.now() - started) / 1000)} s`);

    receiver = await startReceiver();
    redis = new Redis(serviceAddresses().redisUrl);
    const separate = stackEnv('roles');
    for (const role of ['api', 'worker', 'consumer'] as const)
      containers.set(role, await startContainer(role, separate));
    containers.set('all-in-one', await startContainer('all-in-one', stackEnv('aio')));
  });

  after(async () => {
    const listed = await docker(['ps', '--all', '--quiet', '--filter', `label=wss-test=${RUN_ID}`]).catch(
      () => undefined,
    );
    const ids = listed?.stdout.split('\n').filter(Boolean) ?? [];
    if (ids.length > 0) await docker(['rm', '--force', ...ids]);
    redis?.disconnect();
    await receiver?.close();
    await engine?.stop();
  });

  function skipped(t: TestContext): boolean {
    if (skipReason === undefined) return false;
    t.skip(skipReason);
    return true;
  }

  it('starts every role (worker, consumer, api, all-in-one) and each answers /readyz on its own ops port', async (t) => {
    if (skipped(t)) return;
    const expected: Record<Role, string[]> = {
      api: ['redis'],
      worker: ['temporal', 'worker'],
      consumer: ['consumerGroup', 'redis', 'temporal'],
      'all-in-one': ['consumerGroup', 'redis', 'temporal', 'worker'],
    };
    for (const role of ROLES) {
      const container = containers.get(role);
      assert.ok(container, role);
      const body = await waitReady(container);
      assert.equal(body.status, 'ready');
      assert.deepEqual(Object.keys(body.checks).sort(), expected[role], `${role} readiness checks`);
      for (const check of expected[role]) assert.equal(body.checks[check], 'ok', `${role} ${check}`);
      // The probe docker-compose.yml's health checks run inside the container.
      const probe = await docker(['exec', container.name, '/app/bin/wss-role', 'ready']);
      assert.equal(probe.status, 0, `${role}: wss-role ready: ${probe.stdout}${probe.stderr}`);
    }
  });

  it('runs as a non-root numeric user with a read-only root file system and nothing writable', async (t) => {
    if (skipped(t)) return;
    // Kubernetes' runAsNonRoot can only verify a numeric USER.
    const user = await dockerOk(['image', 'inspect', '--format', '{{.Config.User}}', IMAGE]);
    assert.match(user, /^[1-9][0-9]*(:[0-9]+)?$/, `image USER ${user}`);
    for (const role of ROLES) {
      const container = containers.get(role);
      assert.ok(container, role);
      assert.equal(await dockerOk(['inspect', '--format', '{{.HostConfig.ReadonlyRootfs}}', container.name]), 'true');
      const uid = await dockerOk(['exec', container.name, 'id', '-u']);
      assert.notEqual(uid, '0', `${role} runs as root`);
      assert.equal(uid, user.split(':')[0]);
      for (const dir of ['/', '/app', '/tmp']) {
        const write = await docker([
          'exec',
          container.name,
          'sh',
          '-c',
          `echo probe > ${dir.replace(/\/$/, '')}/wss-write-probe`,
        ]);
        assert.notEqual(write.status, 0, `${role}: writing to ${dir} succeeded`);
        assert.match(write.stderr, /Read-only file system|Permission denied/, `${role}: ${dir}`);
      }
      // PID 1 is Node itself (the entry point execs it), so SIGTERM from the runtime reaches the drain.
      assert.match(await dockerOk(['exec', container.name, 'cat', '/proc/1/cmdline']), /^node\0/);
    }
  });

  it('delivers one event end to end through the api, consumer and worker containers, signed and transformed', async (t) => {
    if (skipped(t)) return;
    const apiContainer = containers.get('api');
    assert.ok(apiContainer);
    for (const role of ['api', 'worker', 'consumer'] as const) await waitReady(containers.get(role) as Container);
    const tenant = uniqueName('tn');
    // A transform runs in a child process of the worker: it must work in the read-only container too.
    const created = await api(apiContainer, 'POST', `/v1/tenants/${tenant}/endpoints`, {
      url: receiver.url,
      eventTypes: ['order.*'],
      transform: '{"body": {"order": data.id, "kind": type}}',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const secret = String(created.body.secret);

    const before = receiver.requests.length;
    await redis.xadd(
      apiContainer.env.WSS_STREAM as string,
      '*',
      'tenant',
      tenant,
      'type',
      'order.paid',
      'data',
      '{"id":"o-1"}',
      'id',
      'evt-container-1',
    );
    const request = await waitFor(
      'the receiver got the event',
      () => receiver.requests.slice(before).find((r) => r.headers['x-wss-event-id'] === 'evt-container-1'),
      DELIVERY_MS,
      200,
    );
    const verdict = verifyWssRequest(secret, request.headers, request.body);
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
    assert.deepEqual(JSON.parse(request.body.toString('utf8')), { order: 'o-1', kind: 'order.paid' });
  });

  it('delivers one event end to end through the all-in-one container, signed, byte for byte', async (t) => {
    if (skipped(t)) return;
    const aio = containers.get('all-in-one');
    assert.ok(aio);
    await waitReady(aio);
    const tenant = uniqueName('tn');
    const created = await api(aio, 'POST', `/v1/tenants/${tenant}/endpoints`, { url: receiver.url, eventTypes: ['*'] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const data = '{"amount": 1.10, "note":"bytes as published"}';
    const before = receiver.requests.length;
    await redis.xadd(
      aio.env.WSS_STREAM as string,
      '*',
      'tenant',
      tenant,
      'type',
      'invoice.sent',
      'data',
      data,
      'id',
      'evt-container-2',
    );
    const request = await waitFor(
      'the receiver got the event',
      () => receiver.requests.slice(before).find((r) => r.headers['x-wss-event-id'] === 'evt-container-2'),
      DELIVERY_MS,
      200,
    );
    assert.equal(verifyWssRequest(String(created.body.secret), request.headers, request.body).ok, true);
    assert.ok(request.body.toString('utf8').includes(`"data":${data}`), request.body.toString('utf8'));
  });
});
