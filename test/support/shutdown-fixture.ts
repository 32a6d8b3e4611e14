/**
 * A process that drains forever after its first shutdown signal: for tests of what repeated signals and the
 * shutdown timeout do. Prints `ready` once its handlers are in place and `draining <signal>` on the first signal.
 *   node --import tsx test/support/shutdown-fixture.ts <timeoutMs>
 */
import { createLogger } from '../../src/infra/logger';
import { shutdownSignal } from '../../src/main/services';

async function main(): Promise<void> {
  const log = createLogger('info', { component: 'fixture' });
  setInterval(() => undefined, 1000); // Work that keeps the process alive, and a drain that never ends.
  const drained = shutdownSignal({ log, timeoutMs: Number(process.argv[2]) });
  process.stdout.write('ready\n');
  process.stdout.write(`draining ${await drained}\n`);
}

void main();
