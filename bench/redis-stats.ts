import type { RedisClient } from '../src/infra/redis';

/** Cumulative `calls` per command from `INFO commandstats`. */
export async function commandCalls(redis: RedisClient): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m?.[1] && m[2]) calls.set(m[1], Number(m[2]));
  }
  return calls;
}

/** Commands that only the harness itself sends while measuring, left out of the per-event count. */
const HARNESS_COMMANDS = new Set(['info']);

/** Commands per event between two `commandCalls` readings, total and by command (largest first). */
export function commandsPerEvent(
  before: Map<string, number>,
  after: Map<string, number>,
  events: number,
): { total: number; byCommand: Record<string, number> } {
  const byCommand: [string, number][] = [];
  let total = 0;
  for (const [name, count] of after) {
    if (HARNESS_COMMANDS.has(name)) continue;
    const delta = count - (before.get(name) ?? 0);
    if (delta <= 0) continue;
    total += delta;
    byCommand.push([name, Number((delta / events).toFixed(3))]);
  }
  byCommand.sort((a, b) => b[1] - a[1]);
  return { total: Number((total / events).toFixed(3)), byCommand: Object.fromEntries(byCommand) };
}
