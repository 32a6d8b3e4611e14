import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/infra/config';

const refused = (overrides: Record<string, string>, message: RegExp) =>
  assert.throws(
    () => loadConfig({}, overrides),
    (err: unknown) => err instanceof ConfigError && message.test(err.message),
    JSON.stringify(overrides),
  );

describe('service retry policy configuration (WSS_RETRY_*)', () => {
  it('refuses a maximum interval below the initial one, naming both variables', () => {
    refused(
      { WSS_RETRY_INITIAL_MS: '60000', WSS_RETRY_MAX_INTERVAL_MS: '1000' },
      /WSS_RETRY_MAX_INTERVAL_MS: must not be less than WSS_RETRY_INITIAL_MS \(60000\)/,
    );
  });

  it("keeps the service's bounds, checked by the domain validator", () => {
    refused({ WSS_RETRY_MAX_ATTEMPTS: '1001' }, /WSS_RETRY_MAX_ATTEMPTS: must be an integer from 1 to 1000/);
    refused({ WSS_RETRY_MAX_ATTEMPTS: '2.5' }, /WSS_RETRY_MAX_ATTEMPTS: must be an integer/);
    refused({ WSS_RETRY_INITIAL_MS: '0' }, /WSS_RETRY_INITIAL_MS: must be an integer from 1/);
    refused({ WSS_RETRY_INITIAL_MS: 'soon' }, /WSS_RETRY_INITIAL_MS/);
    refused({ WSS_RETRY_BACKOFF: '0.5' }, /WSS_RETRY_BACKOFF: must be a number from 1 to 100/);
    refused({ WSS_RETRY_JITTER_PERCENT: '101' }, /WSS_RETRY_JITTER_PERCENT: must be a number from 0 to 100/);
    refused({ WSS_RETRY_WINDOW_MS: '0' }, /WSS_RETRY_WINDOW_MS/);
  });

  it('accepts equal intervals, values beyond what a tenant may set, and either interval alone', () => {
    const config = loadConfig(
      {},
      { WSS_RETRY_INITIAL_MS: '1', WSS_RETRY_MAX_INTERVAL_MS: '1', WSS_RETRY_MAX_ATTEMPTS: '1000' },
    );
    assert.equal(config.WSS_RETRY_INITIAL_MS, 1);
    assert.equal(config.WSS_RETRY_MAX_INTERVAL_MS, 1);
    assert.equal(config.WSS_RETRY_MAX_ATTEMPTS, 1000);
    assert.equal(loadConfig({}, { WSS_RETRY_MAX_INTERVAL_MS: '1000' }).WSS_RETRY_MAX_INTERVAL_MS, 1000);
    assert.equal(loadConfig({}).WSS_RETRY_INITIAL_MS, undefined);
  });
});
