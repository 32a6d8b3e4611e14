import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * How every role connects to Redis: one standalone server (`REDIS_URL`), a master found through Sentinel
 * (`REDIS_SENTINELS` + `REDIS_SENTINEL_MASTER`) or a Redis Cluster (`REDIS_CLUSTER_NODES`), each optionally over
 * TLS (with a custom CA and a client certificate) and with an ACL user. `src/infra/redis.ts` turns it into ioredis
 * connections. Holds secrets (passwords, the client key): never log it whole; log {@link describeRedisSettings}.
 */
export interface RedisSettings {
  readonly topology: RedisTopology;
  /** ACL user name (Redis 6+); without it, the password authenticates the `default` user. */
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** `false` for plain text; otherwise TLS with these customisations (empty: the system's roots, no client cert). */
  readonly tls: false | RedisTls;
  /**
   * Replicas that must confirm the consumer's payload write (and the API's publish) before it goes on (`WAIT`); 0
   * waits for none.
   */
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
}

export type RedisTopology =
  | { readonly kind: 'standalone'; readonly host: string; readonly port: number; readonly db: number }
  | {
      readonly kind: 'sentinel';
      readonly masterName: string;
      readonly sentinels: readonly HostPort[];
      readonly sentinelUsername: string | undefined;
      readonly sentinelPassword: string | undefined;
    }
  | { readonly kind: 'cluster'; readonly nodes: readonly HostPort[] };

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface RedisTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Name checked against the server's certificate and sent as SNI, instead of the host connected to. */
  readonly servername?: string;
}

/** A bad Redis setting: each issue starts with the variable that holds the bad value. */
export class RedisSettingsError extends Error {
  constructor(readonly issues: string[]) {
    super(issues.join('; '));
    this.name = 'RedisSettingsError';
  }
}

/** The variables {@link resolveRedisSettings} reads, already type-checked by the config schema. */
export interface RedisVariables {
  readonly REDIS_URL: string;
  /** Whether REDIS_URL was set, not just defaulted. */
  readonly urlSet: boolean;
  readonly REDIS_USERNAME?: string | undefined;
  readonly REDIS_PASSWORD?: string | undefined;
  readonly REDIS_TLS?: boolean | undefined;
  readonly REDIS_TLS_CA_FILE?: string | undefined;
  readonly REDIS_TLS_CA?: string | undefined;
  readonly REDIS_TLS_CERT_FILE?: string | undefined;
  readonly REDIS_TLS_CERT?: string | undefined;
  readonly REDIS_TLS_KEY_FILE?: string | undefined;
  readonly REDIS_TLS_KEY?: string | undefined;
  readonly REDIS_TLS_SERVER_NAME?: string | undefined;
  readonly REDIS_SENTINELS?: string | undefined;
  readonly REDIS_SENTINEL_MASTER?: string | undefined;
  readonly REDIS_SENTINEL_USERNAME?: string | undefined;
  readonly REDIS_SENTINEL_PASSWORD?: string | undefined;
  readonly REDIS_CLUSTER_NODES?: string | undefined;
  readonly REDIS_WAIT_REPLICAS: number;
  readonly REDIS_WAIT_TIMEOUT_MS: number;
}

/** Each PEM input, settable as a file (`<NAME>_FILE`) or inline (`<NAME>`). */
const PEM_INPUTS = {
  ca: { variable: 'REDIS_TLS_CA', kind: 'certificate' },
  cert: { variable: 'REDIS_TLS_CERT', kind: 'certificate' },
  key: { variable: 'REDIS_TLS_KEY', kind: 'private key' },
} as const;
type PemInput = keyof typeof PEM_INPUTS;

/**
 * Checks every Redis variable together, so that start-up fails naming the variable: a URL that is not
 * `redis://`/`rediss://` or carries options the variables own, both a file and inline data, a file that cannot be
 * read, a PEM that does not parse, a certificate without its key (or a key that is not the certificate's), TLS
 * settings with TLS switched off, Sentinel and Cluster at once, a malformed `host:port` list, a master name
 * without sentinels (or the reverse), and a `WAIT` on a cluster.
 */
export function resolveRedisSettings(vars: RedisVariables): RedisSettings {
  const issues: string[] = [];

  let url: URL | undefined;
  try {
    url = new URL(vars.REDIS_URL);
  } catch {
    issues.push('REDIS_URL: not a URL');
  }
  if (url !== undefined && url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    issues.push(`REDIS_URL: the scheme must be redis:// or rediss:// (TLS), not ${url.protocol}//`);
  }
  if (url !== undefined && url.search !== '') {
    issues.push('REDIS_URL: query options are not supported; use the REDIS_* variables');
  }

  const sentinels =
    vars.REDIS_SENTINELS !== undefined ? hostPorts('REDIS_SENTINELS', vars.REDIS_SENTINELS, issues) : undefined;
  const clusterNodes =
    vars.REDIS_CLUSTER_NODES !== undefined
      ? hostPorts('REDIS_CLUSTER_NODES', vars.REDIS_CLUSTER_NODES, issues)
      : undefined;
  if (sentinels !== undefined && clusterNodes !== undefined) {
    issues.push('REDIS_CLUSTER_NODES: set together with REDIS_SENTINELS; choose Sentinel or Cluster');
  }
  if (sentinels !== undefined && vars.REDIS_SENTINEL_MASTER === undefined) {
    issues.push('REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS (the master group name the sentinels monitor)');
  }
  if (sentinels === undefined) {
    for (const name of ['REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_USERNAME', 'REDIS_SENTINEL_PASSWORD'] as const) {
      if (vars[name] !== undefined) issues.push(`${name}: set without REDIS_SENTINELS`);
    }
  }
  const topologyVariable = sentinels !== undefined ? 'REDIS_SENTINELS' : 'REDIS_CLUSTER_NODES';
  if ((sentinels !== undefined || clusterNodes !== undefined) && vars.urlSet) {
    // The URL would say one server; silently ignoring it would hide which set-up is really used.
    issues.push(
      `REDIS_URL: not used with ${topologyVariable}; unset it and give the user, password and TLS with REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS`,
    );
  }
  if (clusterNodes !== undefined && vars.REDIS_WAIT_REPLICAS > 0) {
    issues.push('REDIS_WAIT_REPLICAS: not supported with REDIS_CLUSTER_NODES');
  }

  // TLS: rediss:// or REDIS_TLS=true turns it on; the TLS_* settings need it on, and say so when it is not.
  const urlTls = url?.protocol === 'rediss:';
  if (vars.REDIS_TLS === false && urlTls) issues.push('REDIS_TLS: false, but REDIS_URL is rediss://');
  const tlsOn = vars.REDIS_TLS ?? (sentinels === undefined && clusterNodes === undefined && urlTls);
  const pem = (input: PemInput): Buffer | undefined => readPem(input, vars, issues);
  const ca = pem('ca');
  const cert = pem('cert');
  const key = pem('key');
  const certGiven = vars.REDIS_TLS_CERT_FILE !== undefined || vars.REDIS_TLS_CERT !== undefined;
  const keyGiven = vars.REDIS_TLS_KEY_FILE !== undefined || vars.REDIS_TLS_KEY !== undefined;
  if (certGiven !== keyGiven) {
    issues.push(
      certGiven
        ? 'REDIS_TLS_CERT: set without REDIS_TLS_KEY_FILE or REDIS_TLS_KEY; a client certificate needs its key'
        : 'REDIS_TLS_KEY: set without REDIS_TLS_CERT_FILE or REDIS_TLS_CERT; a client key needs its certificate',
    );
  }
  if (cert !== undefined && key !== undefined && !keyMatches(cert, key)) {
    issues.push('REDIS_TLS_KEY: the private key does not belong to the client certificate (REDIS_TLS_CERT)');
  }
  if (!tlsOn) {
    const tlsVariables = [
      'REDIS_TLS_CA_FILE',
      'REDIS_TLS_CA',
      'REDIS_TLS_CERT_FILE',
      'REDIS_TLS_CERT',
      'REDIS_TLS_KEY_FILE',
      'REDIS_TLS_KEY',
      'REDIS_TLS_SERVER_NAME',
    ] as const;
    for (const name of tlsVariables) {
      if (vars[name] !== undefined) {
        const turnOn = sentinels || clusterNodes ? 'set REDIS_TLS=true' : 'use a rediss:// REDIS_URL';
        issues.push(`${name}: set, but TLS is off; ${turnOn}`);
      }
    }
  }

  const db = url !== undefined ? urlDatabase(url, issues) : 0;
  if (issues.length > 0) throw new RedisSettingsError(issues);

  let topology: RedisTopology;
  if (sentinels !== undefined) {
    topology = {
      kind: 'sentinel',
      masterName: vars.REDIS_SENTINEL_MASTER as string,
      sentinels,
      sentinelUsername: vars.REDIS_SENTINEL_USERNAME,
      sentinelPassword: vars.REDIS_SENTINEL_PASSWORD,
    };
  } else if (clusterNodes !== undefined) {
    topology = { kind: 'cluster', nodes: clusterNodes };
  } else {
    const parsed = url as URL;
    topology = {
      kind: 'standalone',
      host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
      port: parsed.port === '' ? 6379 : Number(parsed.port),
      db,
    };
  }
  // The variables win over the URL's user info, so a secret store can supply the password alone.
  const fromUrl = (part: string): string | undefined =>
    url !== undefined && topology.kind === 'standalone' && part !== '' ? decodeURIComponent(part) : undefined;
  return {
    topology,
    username: vars.REDIS_USERNAME ?? fromUrl(url?.username ?? ''),
    password: vars.REDIS_PASSWORD ?? fromUrl(url?.password ?? ''),
    tls: tlsOn
      ? {
          ...(ca !== undefined ? { ca } : {}),
          ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
          ...(vars.REDIS_TLS_SERVER_NAME !== undefined ? { servername: vars.REDIS_TLS_SERVER_NAME } : {}),
        }
      : false,
    waitReplicas: vars.REDIS_WAIT_REPLICAS,
    waitTimeoutMs: vars.REDIS_WAIT_TIMEOUT_MS,
  };
}

/** What a log line may say about the connection: where, and which protections; no password, no PEM. */
export function describeRedisSettings(settings: RedisSettings): Record<string, unknown> {
  const { topology } = settings;
  const where =
    topology.kind === 'standalone'
      ? { address: `${topology.host}:${topology.port}`, db: topology.db }
      : topology.kind === 'sentinel'
        ? { master: topology.masterName, sentinels: topology.sentinels.map((s) => `${s.host}:${s.port}`) }
        : { nodes: topology.nodes.map((n) => `${n.host}:${n.port}`) };
  return {
    mode: topology.kind,
    ...where,
    tls: settings.tls === false ? 'off' : settings.tls.cert !== undefined ? 'mtls' : 'on',
    ...(settings.username !== undefined ? { user: settings.username } : {}),
    password: settings.password !== undefined,
  };
}

/** `host:port,host:port` (IPv6 as `[::1]:port`). */
function hostPorts(variable: string, value: string, issues: string[]): HostPort[] {
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) {
    issues.push(`${variable}: empty; give host:port,host:port`);
    return [];
  }
  const out: HostPort[] = [];
  for (const part of parts) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(part);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      issues.push(`${variable}: "${part}" is not host:port`);
      continue;
    }
    out.push({ host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port });
  }
  return out;
}

function urlDatabase(url: URL, issues: string[]): number {
  const path = url.pathname.replace(/^\//, '');
  if (path === '') return 0;
  if (!/^\d{1,5}$/.test(path)) {
    issues.push(`REDIS_URL: the path must be a database number (/0), not /${path}`);
    return 0;
  }
  return Number(path);
}

function readPem(input: PemInput, vars: RedisVariables, issues: string[]): Buffer | undefined {
  const { variable, kind } = PEM_INPUTS[input];
  const fileVariable = `${variable}_FILE` as const;
  const file = vars[fileVariable];
  const inline = vars[variable];
  if (file !== undefined && inline !== undefined) {
    issues.push(`${variable}: set both ${fileVariable} and ${variable}; set one`);
    return undefined;
  }
  let name: string;
  let bytes: Buffer;
  if (file !== undefined) {
    name = fileVariable;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      issues.push(`${name}: cannot read the ${kind} file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  } else if (inline !== undefined) {
    name = variable;
    bytes = Buffer.from(inline.replace(/\\n/g, '\n'));
  } else {
    return undefined;
  }
  const problem = pemProblem(bytes, kind);
  if (problem !== undefined) {
    issues.push(`${name}: ${problem}`);
    return undefined;
  }
  return bytes;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

/** Parses every PEM block now, so that a truncated or swapped file fails start-up, not the first handshake. */
function pemProblem(bytes: Buffer, kind: 'certificate' | 'private key'): string | undefined {
  const blocks = [...bytes.toString('utf8').matchAll(PEM_BLOCK)];
  if (blocks.length === 0) return `not a PEM ${kind} (no -----BEGIN block)`;
  for (const [block, label] of blocks) {
    try {
      if (kind === 'certificate') {
        if (label !== 'CERTIFICATE') return `not a PEM certificate: holds a ${label ?? 'non-certificate'} block`;
        new X509Certificate(block);
      } else {
        createPrivateKey(block);
      }
    } catch (err) {
      // The parser's message names the structure that failed, never the key material.
      return `not a valid PEM ${kind}: ${(err as Error).message}`;
    }
  }
  return undefined;
}

function keyMatches(cert: Buffer, key: Buffer): boolean {
  try {
    return new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}
