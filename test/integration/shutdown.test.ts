import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { uniqueName, waitFor } from '../support/services';

/**
 * What `npm start` does on Ctrl-C and on SIGTERM, for real: scripts/local-stack.mjs (persistent mode, its own data
 * dir and free ports) starts Redis and the Temporal dev server and runs the all-in-one; the test signals it while an
 * attempt is in flight at a slow receiver, then restarts the stack on the same data and checks the attempt was
 * recorded once and is never sent again. The service exits at once on a second signal, so one Ctrl-C must reach it
 * once: the Ctrl-C test runs package.json's `start` line on a real pseudo-terminal (util-linux `script`) through
 * `/bin/sh -c`, as npm runs it, types Ctrl-C into it and relays it to the runner once more, as npm does.
 */

const ROOT = path.resolve(__dirname, '../..');
/** How long the receiver holds each request before answering 200. */
const RECEIVER_DELAY_MS = 8000;
/** Hang guards only: a healthy run takes a fraction of these on a busy 2-core machine. */
const START_TIMEOUT_MS = 240_000;
const EXIT_TIMEOUT_MS = 180_000;

interface SlowReceiver {
  readonly url: string;
  /** Requests that arrived, in order; `answered` once the 200 was fully written, `aborted` if the peer hung up. */
  readonly requests: { eventId: string; answered: boolean; aborted: boolean }[];
  close(): Promise<void>;
}

async function startSlowReceiver(): Promise<SlowReceiver> {
  const requests: SlowReceiver['requests'] = [];
  const server: Server = createServer((req, res) => {
    const record = { eventId: String(req.headers['x-wss-event-id'] ?? ''), answered: false, aborted: false };
    requests.push(record);
    req.resume();
    res.on('close', () => {
      if (!res.writableFinished) record.aborted = true;
    });
    const timer = setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok', () => {
        record.answered = true;
      });
    }, RECEIVER_DELAY_MS);
    res.on('close', () => clearTimeout(timer));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
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

interface StackSettings {
  readonly dataDir: string;
  readonly redisPort: number;
  readonly temporalPort: number;
  readonly apiPort: number;
  readonly env: NodeJS.ProcessEnv;
}

async function stackSettings(): Promise<StackSettings> {
  const redisPort = await freePort();
  const temporalPort = await freePort();
  const uiPort = await freePort();
  const apiPort = await freePort();
  // The outer test stack's addresses must not leak in: this stack starts its own Redis and Temporal.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('WSS_') && k !== 'REDIS_URL' && k !== 'TEMPORAL_ADDRESS' && k !== 'TEMPORAL_NAMESPACE',
    ),
  );
  return {
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'wss-shutdown-')),
    redisPort,
    temporalPort,
    apiPort,
    env: {
      ...inherited,
      WSS_LOCAL_REDIS_PORT: String(redisPort),
      WSS_LOCAL_TEMPORAL_PORT: String(temporalPort),
      WSS_LOCAL_TEMPORAL_UI_PORT: String(uiPort),
      WSS_API_PORT: String(apiPort),
      WSS_OPS_PORT: '0',
      WSS_ADMIN_TOKEN: `admin_${randomBytes(16).toString('hex')}`,
      WSS_MASTER_KEY: randomBytes(32).toString('base64'),
      WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
      WSS_LOG_LEVEL: 'info',
    },
  };
}

interface RunningStack {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Everything the local stack and the all-in-one printed, line by line. */
  readonly output: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set when the stack runs on a pseudo-terminal: types into it (`\x03` is Ctrl-C). */
  readonly type?: (text: string) => void;
}

const started: RunningStack[] = [];

/** The pid of the local-stack runner that uses `dataDir` (Linux: read from /proc). */
function runnerPid(dataDir: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.includes('scripts/local-stack.mjs') && args.includes(dataDir)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no local-stack runner for ${dataDir}`);
}

/**
 * package.json's `start` line with this test's data dir, running the sources (`tsx`) instead of the build. npm runs
 * it with `/bin/sh -c`; on Debian that is dash, which stays in between as the runner's parent unless the line
 * `exec`s, and dies at once on the terminal's Ctrl-C, so npm would report the interrupt while the drain still runs.
 */
function npmStartLine(dataDir: string): string {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const line = pkg.scripts.start
    .replace(' run -- ', ` run --data-dir '${dataDir}' -- `)
    .replace('node dist/src/main/all-in-one.js', 'node --import tsx src/main/all-in-one.ts');
  assert.ok(line.includes(dataDir) && line.includes('src/main/all-in-one.ts'), `unexpected start line: ${line}`);
  return line;
}

/**
 * `node scripts/local-stack.mjs run --data-dir … -- node --import tsx src/main/all-in-one.ts`, in its own group;
 * with `pty`, the `npm start` line through `/bin/sh -c` inside `script`, on a pseudo-terminal whose foreground group
 * it is (as in a terminal window).
 */
async function startLocalStack(settings: StackSettings, pty = false): Promise<RunningStack> {
  const command = [
    process.execPath,
    'scripts/local-stack.mjs',
    'run',
    '--data-dir',
    settings.dataDir,
    '--',
    process.execPath,
    '--import',
    'tsx',
    'src/main/all-in-one.ts',
  ];
  // detached: its own process group, like a terminal's foreground job, so the test can signal the group.
  const child = pty
    ? spawn('script', ['-qfec', npmStartLine(settings.dataDir), '/dev/null'], {
        cwd: ROOT,
        // `script` runs the line with $SHELL -c; npm uses /bin/sh.
        env: { ...settings.env, SHELL: '/bin/sh' },
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    : spawn(command[0] ?? '', command.slice(1), {
        cwd: ROOT,
        env: settings.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
  assert.ok(child.pid, 'local stack started');
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      output.push(...lines.map((l) => l.replace(/\r$/, '')));
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const stdin = child.stdin;
  const stack: RunningStack = {
    process: child,
    pid: child.pid,
    output,
    exited,
    ...(stdin ? { type: (text: string) => stdin.write(text) } : {}),
  };
  started.push(stack);
  await waitFor(
    'the start banner',
    () => {
      if (child.exitCode !== null) throw new Error(`local stack exited early:\n${output.join('\n')}`);
      return output.some((line) => line.includes('Webhook Sender Service is running'));
    },
    START_TIMEOUT_MS,
    200,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n--- output ---\n${output.join('\n')}`);
  });
  return stack;
}

async function waitForExit(stack: RunningStack): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the local stack did not exit by itself:\n${stack.output.slice(-40).join('\n')}`)),
      EXIT_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([stack.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function api(settings: StackSettings, method: string, route: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${settings.apiPort}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${String(settings.env.WSS_ADMIN_TOKEN)}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/**
 * Starts the stack, registers a slow endpoint, XADDs one event, and calls `stop` once the attempt is in flight.
 * Then checks that the attempt completed and was recorded before Redis and Temporal stopped, and that a restart on
 * the same data does not send it again.
 */
async function interruptDuringAttempt(
  stop: (stack: RunningStack, settings: StackSettings) => Promise<void>,
  pty = false,
): Promise<void> {
  const settings = await stackSettings();
  const receiver = await startSlowReceiver();
  const tenant = uniqueName('sd').replace(/-/g, '_');
  const eventId = 'evt-shutdown-1';
  try {
    const first = await startLocalStack(settings, pty);
    const created = await api(settings, 'POST', `/v1/tenants/${tenant}/endpoints`, {
      url: receiver.url,
      eventTypes: ['order.*'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const redis = new Redis(settings.redisPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      await redis.xadd('wss:events', '*', 'tenant', tenant, 'type', 'order.created', 'id', eventId, 'data', '{}');
    } finally {
      redis.disconnect();
    }
    await waitFor('the attempt to reach the receiver', () => receiver.requests.length === 1, 120_000);

    await stop(first, settings);
    const exit = await waitForExit(first);
    const output = first.output.join('\n');

    assert.equal(receiver.requests[0]?.aborted, false, `the attempt was cut off:\n${output}`);
    assert.equal(receiver.requests[0]?.answered, true, `the receiver never answered:\n${output}`);
    assert.deepEqual(exit, { code: 0, signal: null }, `the stack's exit:\n${output}`);
    const succeeded = first.output.findIndex((l) => l.includes('delivery succeeded') && l.includes(eventId));
    const stopping = first.output.findIndex((l) => l.includes('[stack] stopping'));
    assert.ok(succeeded >= 0, `the worker logged the delivery:\n${output}`);
    assert.ok(stopping > succeeded, `Redis and Temporal stopped only after the attempt:\n${output}`);
    assert.equal(await portOpen(settings.redisPort), false, 'redis-server stopped with the stack');
    assert.equal(await portOpen(settings.temporalPort), false, 'the Temporal dev server stopped with the stack');

    // Restart on the same data: the recorded attempt is final; the workflow completes without a second request.
    const second = await startLocalStack(settings);
    const view = await waitFor(
      'the delivery to complete after the restart',
      async () => {
        const res = await api(settings, 'GET', `/v1/tenants/${tenant}/deliveries/${eventId}`);
        return res.status === 200 && res.body.workflowStatus === 'COMPLETED' ? res.body : undefined;
      },
      120_000,
      250,
    );
    assert.equal(view.status, 'delivered', JSON.stringify(view));
    assert.equal(view.endpoints.length, 1, JSON.stringify(view));
    assert.deepEqual(
      view.endpoints[0].attempts.map((a: { outcome: string }) => a.outcome),
      ['delivered'],
      JSON.stringify(view),
    );
    assert.equal(receiver.requests.length, 1, 'the event was sent once, not again after the restart');
    process.kill(second.pid, 'SIGTERM');
    assert.deepEqual(await waitForExit(second), { code: 0, signal: null });
  } finally {
    await receiver.close();
    rmSync(settings.dataDir, { recursive: true, force: true });
  }
}

describe('shutdown: npm start stops without losing or repeating an attempt in flight', () => {
  after(async () => {
    // Hang guard: whatever a failed test left running is stopped, group by group (only groups this file started).
    for (const stack of started) {
      if (stack.process.exitCode !== null || stack.process.signalCode !== null) continue;
      // On a pseudo-terminal: Ctrl-C twice, which ends the service at once and the runner after it.
      stack.type?.('\x03');
      stack.type?.('\x03');
      try {
        process.kill(stack.pid, 'SIGTERM');
      } catch {
        continue;
      }
      const done = await Promise.race([stack.exited.then(() => true), sleep(30_000).then(() => false)]);
      if (!done) {
        try {
          process.kill(-stack.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });

  it('Ctrl-C in a terminal (and relayed once more, as npm does) lets the running attempt finish', async () => {
    await interruptDuringAttempt(async (stack, settings) => {
      // The terminal signals every process of its foreground group: the runner and the service.
      stack.type?.('\x03');
      await waitFor('the service to start draining', () => stack.output.some((l) => l.includes('shutting down')));
      // npm relays the SIGINT it got to the runner; the runner must not pass it on (a second signal would force
      // the service to exit at once).
      process.kill(runnerPid(settings.dataDir), 'SIGINT');
    }, true);
  });

  it('SIGTERM to the local stack lets the running attempt finish', async () => {
    await interruptDuringAttempt(async (stack) => {
      process.kill(stack.pid, 'SIGTERM');
    });
  });
});
