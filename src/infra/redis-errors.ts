import type { Logger } from './logger';

/**
 * Why a Redis connection fails, in an operator's words, with the variables to check. ioredis reports connection
 * failures as `error` events (a refused AUTH, a TLS handshake that fails, sentinels that do not know the master);
 * without a listener it prints them unstructured to stderr. {@link RedisErrorReporter} listens, classifies, logs
 * through pino (rate-limited) and keeps the last cause for `/readyz`.
 */
export interface RedisFailureCause {
  /** Stable short key, for rate limiting and the log's `cause` field. */
  readonly cause: string;
  /** What it means, e.g. "authentication refused (WRONGPASS)". */
  readonly summary: string;
  /** The variables that decide it. */
  readonly check: readonly string[];
}

interface Rule {
  readonly match: RegExp;
  readonly cause: string;
  readonly summary: (message: string, code: string) => string;
  readonly check: readonly string[];
}

const RULES: readonly Rule[] = [
  {
    match: /WRONGPASS|NOAUTH|invalid password|invalid username-password|AUTH.*without any password/i,
    cause: 'auth',
    summary: (m) => `authentication refused (${/^(WRONGPASS|NOAUTH|ERR)/.exec(m)?.[1] ?? 'AUTH'})`,
    check: ['REDIS_USERNAME', 'REDIS_PASSWORD'],
  },
  {
    match: /NOPERM/,
    cause: 'acl',
    summary: () => 'the ACL user lacks a permission (NOPERM)',
    check: ['REDIS_USERNAME'],
  },
  {
    match: /ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match certificate/i,
    cause: 'tls_server_name',
    summary: () => "the server's certificate is not for the name connected to",
    check: ['REDIS_TLS_SERVER_NAME'],
  },
  {
    match:
      /self[- ]signed certificate|unable to get local issuer certificate|unable to verify the first certificate|SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED/i,
    cause: 'tls_unknown_ca',
    summary: () => "the server's certificate is not signed by a trusted CA",
    check: ['REDIS_TLS_CA_FILE', 'REDIS_TLS_CA'],
  },
  {
    match: /certificate required|alert handshake failure|alert bad certificate|alert unknown ca/i,
    cause: 'tls_client_certificate',
    summary: () => 'the server refused the client certificate (missing or not trusted)',
    check: ['REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE'],
  },
  {
    match: /wrong version number|packet length too long|unknown protocol|ETIMEDOUT.*tls|before secure TLS connection/i,
    cause: 'tls_mismatch',
    summary: (m) =>
      /ETIMEDOUT/.test(m)
        ? 'the TLS handshake timed out: TLS against a plain-text port, or the server unreachable'
        : 'TLS handshake failed: TLS against a plain-text port',
    check: ['REDIS_URL (rediss:// or redis://)', 'REDIS_TLS'],
  },
  {
    match: /No such master|invalid reply: null/i,
    cause: 'sentinel_master',
    summary: () => 'the sentinels do not know the master name',
    check: ['REDIS_SENTINEL_MASTER'],
  },
  {
    match: /All sentinels are unreachable/i,
    cause: 'sentinels_unreachable',
    summary: () => 'no sentinel answers',
    check: ['REDIS_SENTINELS'],
  },
  {
    match: /ECONNRESET|socket hang up|Connection is closed/i,
    cause: 'connection_reset',
    summary: () => 'the server closed the connection (a plain-text client on a TLS port, or the server restarting)',
    check: ['REDIS_URL (rediss:// or redis://)', 'REDIS_TLS'],
  },
  {
    match: /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ETIMEDOUT/i,
    cause: 'unreachable',
    summary: (_m, code) => `the server is unreachable (${code || 'connect failed'})`,
    check: ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'],
  },
];

/**
 * Classifies a connection error. `tls` says whether the connection uses TLS: a connect time-out on a TLS
 * connection is most often a TLS client waiting for a plain-text server's handshake answer that never comes.
 */
export function classifyRedisError(err: Error, tls: boolean): RedisFailureCause {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  let message = `${code} ${err.message}`;
  if (tls && /ETIMEDOUT/.test(message)) message += ' tls';
  for (const rule of RULES) {
    if (rule.match.test(message))
      return { cause: rule.cause, summary: rule.summary(err.message, code), check: rule.check };
  }
  return { cause: 'other', summary: firstLine(err.message), check: ['REDIS_URL'] };
}

/** One line, bounded (ioredis's messages carry the server's reply, never the password sent). */
function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').slice(0, 200);
}

/** At most one line per cause per this interval (the first at once). */
const LOG_INTERVAL_MS = 30_000;

/** Logs a connection's failures (rate-limited per cause) and remembers the last one until it is ready again. */
export class RedisErrorReporter {
  private last: { cause: RedisFailureCause; at: number } | undefined;
  private readonly perCause = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(
    private readonly name: string,
    private readonly tls: boolean,
    private readonly log: Logger | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** An `error` event (or a sentinel or cluster node error). */
  report(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const cause = classifyRedisError(error, this.tls);
    const at = this.now();
    this.last = { cause, at };
    const seen = this.perCause.get(cause.cause);
    if (seen !== undefined && at - seen.loggedAt < LOG_INTERVAL_MS) {
      seen.suppressed += 1;
      return;
    }
    const repeated = seen?.suppressed ?? 0;
    this.perCause.set(cause.cause, { loggedAt: at, suppressed: 0 });
    this.log?.[cause.cause === 'unreachable' || cause.cause === 'connection_reset' ? 'warn' : 'error'](
      {
        connection: `wss-${this.name}`,
        cause: cause.cause,
        check: cause.check,
        ...(repeated > 0 ? { repeatedSinceLastLine: repeated } : {}),
        err: firstLine(error.message),
      },
      `redis connection failing: ${describeCause(cause)}`,
    );
  }

  /** The connection is ready: the next failure logs at once, and `/readyz` stops quoting an old cause. */
  recovered(): void {
    if (this.last !== undefined) {
      this.log?.info({ connection: `wss-${this.name}` }, 'redis connection ready again');
    }
    this.last = undefined;
    this.perCause.clear();
  }

  /** The last failure since the connection was last ready, e.g. for `/readyz`. */
  lastCause(): RedisFailureCause | undefined {
    return this.last?.cause;
  }
}

/** "authentication refused (WRONGPASS); check REDIS_USERNAME, REDIS_PASSWORD" */
export function describeCause(cause: RedisFailureCause): string {
  return `${cause.summary}; check ${cause.check.join(', ')}`;
}
