import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';

const FIXTURE = path.resolve(__dirname, '../support/shutdown-fixture.ts');

interface Fixture {
  /** Resolves once the fixture printed `line`. */
  printed(line: string): Promise<void>;
  signal(signal: NodeJS.Signals): void;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
}

function startFixture(timeoutMs: number): Fixture {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, String(timeoutMs)], {
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

describe('shutdownSignal: what repeated signals and the shutdown timeout do', { timeout: 60_000 }, () => {
  it('survives a repeated signal while draining, logs it, and exits at once (130) on the third SIGINT', async () => {
    const fixture = startFixture(600_000);
    await fixture.printed('ready');
    fixture.signal('SIGINT');
    await fixture.printed('draining SIGINT');
    fixture.signal('SIGINT');
    await fixture.printed('repeated signal ignored');
    fixture.signal('SIGINT');
    const exit = await fixture.exited;
    assert.equal(exit.code, 130, exit.output);
    assert.match(exit.output, /shutdown forced by a third signal/);
  });

  it('counts SIGTERM and SIGINT together; a third SIGTERM exits with 143', async () => {
    const fixture = startFixture(600_000);
    await fixture.printed('ready');
    fixture.signal('SIGTERM');
    await fixture.printed('draining SIGTERM');
    fixture.signal('SIGINT');
    await fixture.printed('repeated signal ignored');
    fixture.signal('SIGTERM');
    const exit = await fixture.exited;
    assert.equal(exit.code, 143, exit.output);
  });

  it('exits with code 1 when the drain outlasts the shutdown timeout', async () => {
    const fixture = startFixture(1500);
    await fixture.printed('ready');
    fixture.signal('SIGTERM');
    await fixture.printed('draining SIGTERM');
    const exit = await fixture.exited;
    assert.equal(exit.code, 1, exit.output);
    assert.match(exit.output, /shutdown did not finish within WSS_SHUTDOWN_TIMEOUT_MS/);
  });
});
