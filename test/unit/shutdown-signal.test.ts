import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/infra/config';
import {
  SHUTDOWN_DEADLINE_MARGIN_MS,
  closeInOrder,
  shutdownDeadlineMs,
  signalExitCode,
  supervisorGraceSeconds,
  workerShutdownGraceMs,
} from '../../src/main/shutdown';

const FIXTURE = path.resolve(__dirname, '../support/shutdown-fixture.ts');

interface Fixture {
  /** Resolves once the fixture printed `line`. */
  printed(line: string): Promise<void>;
  signal(signal: NodeJS.Signals): void;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
}

function startFixture(deadlineMs: number, drain: 'hang' | 'finish'): Fixture {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, String(deadlineMs), drain], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: { line: string; resolve: () => void }[] = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const w of waiters.filter((x) => output.includes(x.line))) w.resolve();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, output })),
  );
  return {
    printed: (line) =>
      new Promise<void>((resolve, reject) => {
        if (output.includes(line)) return resolve();
        waiters.push({ line, resolve });
        void exited.then((e) => reject(new Error(`exited before printing "${line}": ${JSON.stringify(e)}`)));
      }),
    signal: (signal) => child.kill(signal),
    exited,
  };
}

describe('onShutdownSignal: exit codes of a drain', { timeout: 60_000 }, () => {
  it('exits 0 when the drain after the first signal finishes, and reports draining from the signal on', async () => {
    const fixture = startFixture(600_000, 'finish');
    await fixture.printed('ready draining=false');
    fixture.signal('SIGTERM');
    const exit = await fixture.exited;
    assert.match(exit.output, /draining SIGTERM draining=true/);
    assert.equal(exit.code, 0, exit.output);
  });

  it('exits at once with 130 on a second SIGINT while draining', async () => {
    const fixture = startFixture(600_000, 'hang');
    await fixture.printed('ready');
    fixture.signal('SIGINT');
    await fixture.printed('draining SIGINT');
    fixture.signal('SIGINT');
    const exit = await fixture.exited;
    assert.equal(exit.code, 130, exit.output);
    assert.match(exit.output, /second signal while draining/);
  });

  it('counts SIGTERM and SIGINT together; the second signal gives the code (143 for SIGTERM)', async () => {
    const fixture = startFixture(600_000, 'hang');
    await fixture.printed('ready');
    fixture.signal('SIGINT');
    await fixture.printed('draining SIGINT');
    fixture.signal('SIGTERM');
    const exit = await fixture.exited;
    assert.equal(exit.code, 143, exit.output);
  });

  it('exits with code 1 when the drain outlasts its deadline', async () => {
    const fixture = startFixture(1500, 'hang');
    await fixture.printed('ready');
    fixture.signal('SIGTERM');
    await fixture.printed('draining SIGTERM');
    const exit = await fixture.exited;
    assert.equal(exit.code, 1, exit.output);
    assert.match(exit.output, /drain did not finish within WSS_SHUTDOWN_GRACE_MS/);
  });
});

describe('WSS_SHUTDOWN_GRACE_MS and the deadlines derived from it', () => {
  const base = { WSS_MASTER_KEY: Buffer.alloc(32, 1).toString('base64') };

  it('gives the worker the whole grace and the process the grace plus its margin', () => {
    const config = loadConfig(base, { WSS_SHUTDOWN_GRACE_MS: '45000' });
    assert.equal(workerShutdownGraceMs(config), 45_000);
    assert.equal(shutdownDeadlineMs(config), 45_000 + SHUTDOWN_DEADLINE_MARGIN_MS);
    assert.ok(supervisorGraceSeconds(config) * 1000 > shutdownDeadlineMs(config));
  });

  it("defaults to a drain that fits Kubernetes' default terminationGracePeriodSeconds (30)", () => {
    const config = loadConfig(base);
    assert.ok(config.WSS_SHUTDOWN_GRACE_MS > config.WSS_HTTP_TOTAL_TIMEOUT_MS, 'a default attempt fits the grace');
    assert.ok(supervisorGraceSeconds(config) <= 30, `needs ${supervisorGraceSeconds(config)} s`);
  });

  it('stops start-up when the old name WSS_SHUTDOWN_TIMEOUT_MS is set, naming both variables', () => {
    assert.throws(
      () => loadConfig(base, { WSS_SHUTDOWN_TIMEOUT_MS: '60000' }),
      (err: unknown) =>
        err instanceof ConfigError && /WSS_SHUTDOWN_TIMEOUT_MS: renamed to WSS_SHUTDOWN_GRACE_MS/.test(err.message),
    );
  });

  it('names exit codes by the shell convention', () => {
    assert.equal(signalExitCode('SIGINT'), 130);
    assert.equal(signalExitCode('SIGTERM'), 143);
  });
});

describe('closeInOrder', () => {
  it('closes the parts in order, then releases; a failing part stops the parts but not the release', async () => {
    const calls: string[] = [];
    const step =
      (name: string, fail = false) =>
      async () => {
        calls.push(name);
        if (fail) throw new Error(`${name} failed`);
      };
    await closeInOrder([step('consumer'), step('worker')], [step('redis'), step('tracing')]);
    assert.deepEqual(calls, ['consumer', 'worker', 'redis', 'tracing']);

    calls.length = 0;
    await assert.rejects(
      closeInOrder([step('consumer', true), step('worker')], [step('redis'), step('tracing')]),
      /consumer failed/,
    );
    assert.deepEqual(calls, ['consumer', 'redis', 'tracing']);
  });
});
