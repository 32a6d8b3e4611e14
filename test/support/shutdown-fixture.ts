/**
 * An entry point in miniature, for tests of what signals and the drain deadline do. Prints `ready` once its
 * handlers are in place and `draining <signal>` on the first signal; then its drain takes forever (`hang`) or ends
 * at once (`finish`, which exits through runMain like the real entry points).
 *   node --import tsx test/support/shutdown-fixture.ts <deadlineMs> <hang|finish>
 */
import { createLogger } from '../../src/infra/logger';
import { onShutdownSignal, runMain } from '../../src/main/shutdown';

async function main(): Promise<void> {
  const log = createLogger('info', { component: 'fixture' });
  const shutdown = onShutdownSignal({ log, deadlineMs: Number(process.argv[2]) });
  const work = setInterval(() => undefined, 1000); // Work that keeps the process alive.
  process.stdout.write(`ready draining=${shutdown.draining()}\n`);
  const signal = await shutdown.signal;
  process.stdout.write(`draining ${signal} draining=${shutdown.draining()}\n`);
  if (process.argv[3] === 'finish') clearInterval(work);
  else await new Promise(() => undefined);
}

runMain('fixture', main);
