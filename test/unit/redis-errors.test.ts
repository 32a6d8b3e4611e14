import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/infra/logger';
import { RedisErrorReporter, classifyRedisError, describeCause } from '../../src/infra/redis-errors';

const errorWith = (message: string, code?: string): Error => Object.assign(new Error(message), code ? { code } : {});

describe('Redis connection failures', () => {
  it('classifies what ioredis and Node report, naming the variables to check', () => {
    const cases: [Error, boolean, string, string][] = [
      [errorWith('WRONGPASS invalid username-password pair or user is disabled.'), false, 'auth', 'REDIS_PASSWORD'],
      [errorWith('NOAUTH Authentication required.'), false, 'auth', 'REDIS_USERNAME'],
      [
        errorWith("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'),
        true,
        'tls_server_name',
        'REDIS_TLS_SERVER_NAME',
      ],
      [
        errorWith('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'),
        true,
        'tls_unknown_ca',
        'REDIS_TLS_CA_FILE',
      ],
      [
        errorWith('write EPROTO ...:tlsv13 alert certificate required:...'),
        true,
        'tls_client_certificate',
        'REDIS_TLS_CERT_FILE',
      ],
      [errorWith('connect ETIMEDOUT', 'ETIMEDOUT'), true, 'tls_mismatch', 'REDIS_TLS'],
      [errorWith('connect ETIMEDOUT', 'ETIMEDOUT'), false, 'unreachable', 'REDIS_URL'],
      [errorWith('read ECONNRESET', 'ECONNRESET'), false, 'connection_reset', 'REDIS_TLS'],
      [
        errorWith(
          'All sentinels are unreachable. Retrying from scratch after 10ms. Last error: ERR No such master with that name',
        ),
        false,
        'sentinel_master',
        'REDIS_SENTINEL_MASTER',
      ],
      [errorWith('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'), false, 'unreachable', 'REDIS_URL'],
    ];
    for (const [err, tls, cause, variable] of cases) {
      const got = classifyRedisError(err, tls);
      assert.equal(got.cause, cause, err.message);
      assert.ok(describeCause(got).includes(variable), describeCause(got));
    }
  });

  it('logs the first occurrence of a cause at once, then at most one line per cause per 30 s with a count', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(
          ...chunk
            .toString()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>),
        );
        done();
      },
    });
    let now = 1_000_000;
    const reporter = new RedisErrorReporter('api', false, createLogger('info', {}, sink), () => now);
    const wrongPass = errorWith('WRONGPASS invalid username-password pair or user is disabled.');
    for (let i = 0; i < 50; i++) {
      reporter.report(wrongPass);
      now += 200;
    }
    reporter.report(errorWith('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'));
    now += 30_000;
    reporter.report(wrongPass);
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        const auth = lines.filter((l) => l.cause === 'auth');
        assert.equal(auth.length, 2);
        assert.equal(auth[0]!.level, 'error');
        assert.deepEqual(auth[0]!.check, ['REDIS_USERNAME', 'REDIS_PASSWORD']);
        assert.equal(auth[1]!.repeatedSinceLastLine, 49);
        assert.equal(lines.filter((l) => l.cause === 'unreachable').length, 1);
        assert.match(describeCause(reporter.lastCause()!), /authentication refused \(WRONGPASS\)/);
        reporter.recovered();
        assert.equal(reporter.lastCause(), undefined);
        resolve();
      }),
    );
  });
});
