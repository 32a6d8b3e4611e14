import type { WorkerOptions } from '@temporalio/worker';

/**
 * Worker option overrides for tuning experiments, from BENCH_WORKER_OPTIONS (JSON). Only plain-data options make
 * sense here (poller counts, slot limits, cache size); `run.ts --worker-options '<json>'` sets it.
 */
export function workerOptionOverrides(): Partial<WorkerOptions> {
  const raw = process.env.BENCH_WORKER_OPTIONS;
  if (!raw) return {};
  const parsed = JSON.parse(raw) as unknown;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error('BENCH_WORKER_OPTIONS must be a JSON object');
  return parsed as Partial<WorkerOptions>;
}
