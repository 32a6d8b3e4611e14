import { ActivityFailure, ApplicationFailure, patched, sleep } from '@temporalio/workflow';
import type { ThrottleResume, ThrottledAttempt } from '../domain/flow-control';
import { THROTTLED_FAILURE_TYPE } from '../domain/flow-control';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';

/**
 * The change that made a delivery wait out its endpoint's flow control on a durable timer. Histories recorded
 * before it never saw a throttled attempt; `patched()` keeps them replaying as they were.
 */
export const FLOW_CONTROL_PATCH = 'flow-control-throttle-wait';

/**
 * Runs a delivery's attempts (`run`, one activity with its Temporal retries), and when the endpoint's flow control
 * holds an attempt back (the activity failed with {@link THROTTLED_FAILURE_TYPE}), sleeps the wait it asked for on a
 * Temporal timer (durable, no worker slot held) and runs it again. The next activity carries the attempts already
 * made and the retry window moved by the time spent waiting: a throttle is not an attempt, and its wait does not
 * count against the retry window.
 */
export async function withThrottleWaits<T>(
  policy: ResolvedRetryPolicy,
  run: (resume: ThrottleResume | undefined) => Promise<T>,
): Promise<T> {
  let windowEndsAtMs = Date.now() + policy.retryWindowMs;
  let resume: ThrottleResume | undefined;
  for (;;) {
    try {
      return await run(resume);
    } catch (err) {
      const throttled = throttledAttempt(err);
      if (throttled === undefined || !patched(FLOW_CONTROL_PATCH)) throw err;
      const sleptFrom = Date.now();
      await sleep(throttled.waitMs);
      windowEndsAtMs += Date.now() - sleptFrom;
      resume = {
        attemptsBefore: throttled.attemptsBefore,
        windowEndsAtMs,
        ticket: throttled.ticket,
        throttles: throttled.throttles,
      };
    }
  }
}

/**
 * The bounds of the activity that runs a delivery again after a wait: the attempts and the window it has left.
 * Undefined for the first run, which takes the policy's own.
 */
export function resumedBounds(
  policy: ResolvedRetryPolicy,
  resume: ThrottleResume | undefined,
): { scheduleToCloseTimeout: number; maximumAttempts: number } | undefined {
  if (resume === undefined) return undefined;
  return {
    scheduleToCloseTimeout: Math.max(1_000, resume.windowEndsAtMs - Date.now()),
    maximumAttempts: Math.max(1, policy.maximumAttempts - resume.attemptsBefore),
  };
}

function throttledAttempt(err: unknown): ThrottledAttempt | undefined {
  if (!(err instanceof ActivityFailure)) return undefined;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== THROTTLED_FAILURE_TYPE) return undefined;
  return cause.details?.[0] as ThrottledAttempt | undefined;
}
