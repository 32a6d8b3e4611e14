import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/infra/config';

describe('dedupe window configuration', () => {
  it('defaults to 7 days, the payload TTL', () => {
    const config = loadConfig({});
    assert.equal(config.WSS_DEDUPE_WINDOW_SECONDS, 7 * 24 * 3600);
    assert.equal(config.WSS_DEDUPE_WINDOW_SECONDS, config.WSS_PAYLOAD_TTL_SECONDS);
    assert.equal(config.WSS_MAX_EVENT_DEPTH, 64);
  });

  it('refuses a window shorter than the payload TTL, naming the variable', () => {
    assert.throws(
      () => loadConfig({}, { WSS_DEDUPE_WINDOW_SECONDS: '3600' }),
      (err: unknown) => err instanceof ConfigError && /WSS_DEDUPE_WINDOW_SECONDS: must be at least/.test(err.message),
    );
    assert.throws(
      () => loadConfig({}, { WSS_DEDUPE_WINDOW_SECONDS: '10', WSS_PAYLOAD_TTL_SECONDS: '11' }),
      ConfigError,
    );
  });

  it('accepts a longer window, and a short one with a payload TTL as short', () => {
    assert.equal(
      loadConfig({}, { WSS_DEDUPE_WINDOW_SECONDS: String(30 * 24 * 3600) }).WSS_DEDUPE_WINDOW_SECONDS,
      30 * 24 * 3600,
    );
    const short = loadConfig({}, { WSS_DEDUPE_WINDOW_SECONDS: '5', WSS_PAYLOAD_TTL_SECONDS: '5' });
    assert.equal(short.WSS_DEDUPE_WINDOW_SECONDS, 5);
  });
});
