import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';

const LAUNCHER = path.resolve(__dirname, '../../.tools/temporal-test-server/temporal-test-server');

let runtimeInstalled = false;

/**
 * Starts Temporal's Java test server (time-skipping) from the launcher `node scripts/bootstrap.mjs --test`
 * installs, instead of letting the SDK download it. `TEMPORAL_TEST_SERVER` points at another launcher.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const launcher = process.env.TEMPORAL_TEST_SERVER ?? LAUNCHER;
  try {
    accessSync(launcher, constants.X_OK);
  } catch {
    throw new Error(
      `Temporal's test server is not installed at ${launcher}: run \`node scripts/bootstrap.mjs --test\` ` +
        '(needs java and mvn), or set TEMPORAL_TEST_SERVER to a launcher',
    );
  }
  if (!runtimeInstalled) {
    // The SDK logs every failed activity attempt at WARN; the schedule tests fail dozens on purpose.
    // The Java test server also lacks a capability Core warns about once per worker (heartbeat details on
    // failure), which these tests do not use.
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
      shutdownSignals: [],
    });
    runtimeInstalled = true;
  }
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: launcher } },
  });
}
