import { constants } from 'node:os';
import type { Config } from '../infra/config';
import type { Logger } from '../infra/logger';
import { describeError } from './services';

/**
 * Graceful drain, shared by every entry point.
 *
 * Time line after the first SIGTERM or SIGINT:
 * - at once: `/readyz` answers 503 `draining`, the consumer stops reading, the API closes its listener, the worker
 *   stops polling;
 * - up to `WSS_SHUTDOWN_GRACE_MS`: in-flight work finishes (running attempts, workflow starts and their acks,
 *   open API requests). The worker cancels attempts still running at the end of the grace; each is recorded as a
 *   `worker_shutdown` retry and handed back to Temporal, which runs it again on the next worker;
 * - up to the grace + {@link SHUTDOWN_DEADLINE_MARGIN_MS}: the process's own hard deadline. Whatever is still
 *   running then (a drain stuck on an unreachable Redis or Temporal) is abandoned: exit code 1.
 *
 * A supervisor's grace (Kubernetes `terminationGracePeriodSeconds`, Compose `stop_grace_period`) must be longer
 * than the hard deadline, or it kills the process before the drain is done: {@link supervisorGraceSeconds}.
 */

/** Signals that start a drain. */
const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Time after the grace for reporting cancelled attempts, acking and closing connections, before the process gives
 * up on the drain.
 */
export const SHUTDOWN_DEADLINE_MARGIN_MS = 5_000;

/** Exit code when the hard deadline cut the drain short. */
export const DEADLINE_EXIT_CODE = 1;

/** The process's hard deadline after the first signal: the grace plus {@link SHUTDOWN_DEADLINE_MARGIN_MS}. */
export function shutdownDeadlineMs(config: Pick<Config, 'WSS_SHUTDOWN_GRACE_MS'>): number {
  return config.WSS_SHUTDOWN_GRACE_MS + SHUTDOWN_DEADLINE_MARGIN_MS;
}

/**
 * The shortest supervisor grace (Kubernetes `terminationGracePeriodSeconds`, Compose `stop_grace_period`), in whole
 * seconds, that lets a drain run to the process's own deadline: the deadline plus 5 s for the process to start and
 * to exit.
 */
export function supervisorGraceSeconds(config: Pick<Config, 'WSS_SHUTDOWN_GRACE_MS'>): number {
  return Math.ceil((shutdownDeadlineMs(config) + 5_000) / 1000);
}

/** The exit code of a process ended by `signal`, by the shell's convention: 128 + the signal's number. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

export interface ShutdownOptions {
  readonly log: Logger;
  /** The hard deadline after the first signal ({@link shutdownDeadlineMs}); then the process exits with code 1. */
  readonly deadlineMs: number;
}

export interface Shutdown {
  /** Resolves with the first SIGTERM or SIGINT: the moment to stop taking work and drain. */
  readonly signal: Promise<NodeJS.Signals>;
  /** True from the first signal on; `/readyz` answers 503 `draining` while it is. */
  draining(): boolean;
}

/**
 * Installs the signal handlers; call it first thing in an entry point, so a signal during start-up is a drain too.
 * - The first SIGTERM or SIGINT starts the drain and the hard deadline (an unref'd timer: it never keeps a
 *   finished process alive); when it expires the process exits with {@link DEADLINE_EXIT_CODE}.
 * - A second signal, of either kind, exits at once with 128 + its number (130 for SIGINT, 143 for SIGTERM),
 *   whatever is still running. A running attempt cut off this way is retried by Temporal after its attempt
 *   timeout, and its receiver may get the event twice.
 *
 * One Ctrl-C must therefore reach the process once: `scripts/local-stack.mjs` does not relay a terminal's SIGINT
 * to a command that got it from the terminal already.
 */
export function onShutdownSignal(options: ShutdownOptions): Shutdown {
  const { log, deadlineMs } = options;
  let first: NodeJS.Signals | undefined;
  let resolveSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    resolveSignal = resolve;
  });
  const onSignal = (received: NodeJS.Signals): void => {
    if (first !== undefined) {
      const code = signalExitCode(received);
      log.error(
        { signal: received, firstSignal: first, exitCode: code },
        'second signal while draining: exiting at once with work in flight',
      );
      process.exit(code);
    }
    first = received;
    setTimeout(() => {
      log.error(
        { deadlineMs, exitCode: DEADLINE_EXIT_CODE },
        'drain did not finish within WSS_SHUTDOWN_GRACE_MS plus its margin; exiting with work in flight',
      );
      process.exit(DEADLINE_EXIT_CODE);
    }, deadlineMs).unref();
    resolveSignal(received);
  };
  for (const name of SHUTDOWN_SIGNALS) process.on(name, onSignal);
  return { signal, draining: () => first !== undefined };
}

/**
 * How long the Temporal worker lets running activities go on after it stopped polling before it cancels them:
 * `WSS_SHUTDOWN_GRACE_MS` itself; the process's deadline leaves {@link SHUTDOWN_DEADLINE_MARGIN_MS} to report them.
 */
export function workerShutdownGraceMs(config: Pick<Config, 'WSS_SHUTDOWN_GRACE_MS'>): number {
  return config.WSS_SHUTDOWN_GRACE_MS;
}

/**
 * The end of every role's drain: closes its parts in the order given (the order is the drain: whatever takes work
 * in first), then releases Redis and flushes telemetry even when a close failed, which then is rethrown.
 *
 * @param parts   closed one after the other; a failure stops the rest of `parts`
 * @param release run after `parts`, whatever happened to them
 */
export async function closeInOrder(
  parts: readonly (() => Promise<unknown>)[],
  release: readonly (() => Promise<unknown>)[],
): Promise<void> {
  try {
    for (const close of parts) await close();
  } finally {
    for (const done of release) await done();
  }
}

/**
 * Runs an entry point's `main`: exit 0 once it returned (a drain that finished), 1 when it threw (a failed
 * start-up, a fatal worker error), with the reason and nothing else.
 */
export function runMain(name: string, main: () => Promise<void>, log?: Logger): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      if (log) log.fatal({ err: describeError(err) }, `${name} failed`);
      else console.error(`${name} failed: ${describeError(err)}`);
      process.exit(1);
    },
  );
}
