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
 * count against the retry window. `windowEndsAtMs` (epoch ms): when the window ends without waits; by default a full
 * window from now.
 */
export async function withThrottleWaits<T>(
  policy: ResolvedRetryPolicy,
  run: (resume: ThrottleResume | undefined) => Promise<T>,
  windowEndsAtMs = Date.now() + policy.retryWindowMs,
): Promise<T> {
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
 * The throttle a failed attempt reports: a regular activity's failure wraps it (ActivityFailure), a local activity's
 * is the activity's own ApplicationFailure. Undefined for any other failure.
 */
export function throttledAttempt(err: unknown): ThrottledAttempt | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (!(cause instanceof ApplicationFailure) || cause.type !== THROTTLED_FAILURE_TYPE) return undefined;
  return cause.details?.[0] as ThrottledAttempt | undefined;
}
