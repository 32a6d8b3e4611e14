import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ClientConfigProfile, ConfigDataSource } from '@temporalio/envconfig';
import { loadClientConfigProfile } from '@temporalio/envconfig';

/**
 * How every role connects to Temporal: the worker's native connection and the client connection get exactly these
 * settings (see `src/infra/temporal.ts`). Holds secrets (the API key, the client key): never log it whole; log
 * {@link describeTemporalSettings}.
 */
export interface TemporalSettings {
  readonly address: string;
  readonly namespace: string;
  /** `false` for plain text; otherwise TLS with these customisations (empty: the system's roots, no client cert). */
  readonly tls: false | TemporalTls;
  /** Sent as `authorization: Bearer <key>` on every call (Temporal Cloud's API keys). */
  readonly apiKey: string | undefined;
  /** Extra gRPC metadata from the profile's `grpc_meta` or `TEMPORAL_GRPC_META_*`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** How long a start-up connection attempt may take before start-up fails. */
  readonly connectTimeoutMs: number;
}

export interface TemporalTls {
  readonly serverRootCACertificate?: Buffer;
  readonly serverNameOverride?: string;
  readonly clientCertPair?: { readonly crt: Buffer; readonly key: Buffer };
}

/** A bad connection setting: each issue starts with the variable (or profile field) that holds the bad value. */
export class TemporalSettingsError extends Error {
  constructor(readonly issues: string[]) {
    super(issues.join('; '));
    this.name = 'TemporalSettingsError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** The PEM inputs, each settable as a path or inline data, by variable and by profile field. */
const PEM_SOURCES = {
  clientCert: { variable: 'TEMPORAL_TLS_CLIENT_CERT', field: 'client_cert', kind: 'certificate' },
  clientKey: { variable: 'TEMPORAL_TLS_CLIENT_KEY', field: 'client_key', kind: 'private key' },
  serverCACert: { variable: 'TEMPORAL_TLS_SERVER_CA_CERT', field: 'server_ca_cert', kind: 'certificate' },
} as const;
type PemInput = keyof typeof PEM_SOURCES;

const DEFAULT_ADDRESS = '127.0.0.1:7233';
const DEFAULT_NAMESPACE = 'default';

/**
 * Resolves the connection the way the `temporal` CLI and the SDKs do (`@temporalio/envconfig`): the profile
 * `TEMPORAL_PROFILE` (default `default`) of the TOML file `TEMPORAL_CONFIG_FILE` (default
 * `$XDG_CONFIG_HOME/temporalio/temporal.toml`), overridden field by field by the `TEMPORAL_*` variables. An API
 * key turns TLS on unless `TEMPORAL_TLS=false`.
 *
 * On top of envconfig, which reads files lazily and drops some mistakes silently, every value is checked here so
 * that start-up fails with the variable's name: a file that cannot be read, a PEM that does not parse, a key
 * without its certificate (or the reverse), a key that does not belong to the certificate, a named config file or
 * profile that does not exist, and certificates given while TLS is switched off.
 */
export function resolveTemporalSettings(env: Env, connectTimeoutMs: number): TemporalSettings {
  // envconfig reads a variable set to '' as a value ('' address); the rest of the config treats it as unset.
  const cleanEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && (value !== '' || key.startsWith('TEMPORAL_GRPC_META_'))) cleanEnv[key] = value;
  }
  const configFile = cleanEnv.TEMPORAL_CONFIG_FILE;
  if (configFile !== undefined) readOrFail('TEMPORAL_CONFIG_FILE', configFile, 'config');
  if (envBool(cleanEnv.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION)) {
    // The TypeScript SDK's TLS has no such switch; pretending to honour it would hide why the handshake fails.
    throw new TemporalSettingsError([
      'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: not supported by the TypeScript SDK; set TEMPORAL_TLS_SERVER_NAME to the name in the server certificate instead',
    ]);
  }

  const profileName = cleanEnv.TEMPORAL_PROFILE;
  const where = (field: string): string =>
    `${field} in profile "${profileName ?? 'default'}" of ${configFile ?? 'the default config file'}`;
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: cleanEnv });
  } catch (err) {
    throw new TemporalSettingsError([describeProfileError(err, cleanEnv)]);
  }

  const origin = (input: PemInput): string => {
    const { variable, field } = PEM_SOURCES[input];
    if (cleanEnv[`${variable}_PATH`] !== undefined) return `${variable}_PATH`;
    if (cleanEnv[`${variable}_DATA`] !== undefined) return `${variable}_DATA`;
    return where(`tls.${field}_path/_data`);
  };
  const issues: string[] = [];
  const pem = (input: PemInput, source: ConfigDataSource | undefined): Buffer | undefined => {
    if (source === undefined) return undefined;
    const name = origin(input);
    try {
      const bytes =
        'path' in source ? readOrFail(name, source.path, PEM_SOURCES[input].kind) : Buffer.from(source.data);
      checkPem(name, bytes, PEM_SOURCES[input].kind);
      return bytes;
    } catch (err) {
      issues.push(err instanceof TemporalSettingsError ? err.message : `${name}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const tlsProfile = profile.tls;
  const clientCert = pem('clientCert', tlsProfile?.clientCert);
  const clientKey = pem('clientKey', tlsProfile?.clientKey);
  const serverCA = pem('serverCACert', tlsProfile?.serverCACert);
  if ((tlsProfile?.clientCert === undefined) !== (tlsProfile?.clientKey === undefined)) {
    const [given, missing] =
      tlsProfile?.clientCert === undefined
        ? (['clientKey', 'clientCert'] as const)
        : (['clientCert', 'clientKey'] as const);
    issues.push(
      `${origin(given)}: set without ${PEM_SOURCES[missing].variable}_PATH or _DATA; mTLS needs both the client certificate and its key`,
    );
  }
  if (clientCert !== undefined && clientKey !== undefined && !keyMatches(clientCert, clientKey)) {
    issues.push(
      `${origin('clientKey')}: the private key does not belong to the client certificate (${origin('clientCert')})`,
    );
  }
  if (tlsProfile?.disabled === true && (tlsProfile.clientCert ?? tlsProfile.clientKey ?? tlsProfile.serverCACert)) {
    issues.push('TEMPORAL_TLS: false, but TLS certificates are configured; remove them or enable TLS');
  }
  const address = profile.address ?? DEFAULT_ADDRESS;
  if (!validAddress(address)) {
    const source = cleanEnv.TEMPORAL_ADDRESS !== undefined ? 'TEMPORAL_ADDRESS' : where('address');
    issues.push(
      `${source}: "${address}" is not host:port with a port 1-65535 (an IPv6 address in brackets: [::1]:7233)`,
    );
  }
  for (const [key, value] of Object.entries(profile.grpcMeta ?? {})) {
    const problem = metadataProblem(key, value);
    if (problem === undefined) continue;
    const variable = Object.keys(cleanEnv).find(
      (name) => name.startsWith('TEMPORAL_GRPC_META_') && metadataKey(name) === key,
    );
    issues.push(`${variable ?? where(`grpc_meta.${key}`)}: ${problem}`);
  }
  if (issues.length > 0) throw new TemporalSettingsError(issues);

  // envconfig's rule (toClientOptions): any TLS setting turns TLS on, and so does an API key, unless TLS is off.
  const tlsEnabled = tlsProfile !== undefined ? tlsProfile.disabled !== true : profile.apiKey !== undefined;
  return {
    address,
    namespace: profile.namespace ?? DEFAULT_NAMESPACE,
    tls: tlsEnabled
      ? {
          ...(serverCA !== undefined ? { serverRootCACertificate: serverCA } : {}),
          ...(tlsProfile?.serverName !== undefined ? { serverNameOverride: tlsProfile.serverName } : {}),
          ...(clientCert !== undefined && clientKey !== undefined
            ? { clientCertPair: { crt: clientCert, key: clientKey } }
            : {}),
        }
      : false,
    apiKey: profile.apiKey,
    metadata: { ...profile.grpcMeta },
    connectTimeoutMs,
  };
}

/** Settings that work but should not be used in production, as start-up warnings (no secrets in them). */
export function temporalSettingsWarnings(settings: TemporalSettings): string[] {
  const warnings: string[] = [];
  if (settings.apiKey !== undefined && settings.tls === false) {
    warnings.push(
      'TEMPORAL_API_KEY is set with TEMPORAL_TLS=false: the API key is sent to Temporal in plain text; enable TLS unless the connection is already protected (a local proxy, a sidecar)',
    );
  }
  return warnings;
}

/** What a log line may say about the connection: no key, no PEM. */
export function describeTemporalSettings(settings: TemporalSettings): Record<string, unknown> {
  return {
    address: settings.address,
    namespace: settings.namespace,
    tls: settings.tls === false ? 'off' : settings.tls.clientCertPair !== undefined ? 'mtls' : 'on',
    apiKey: settings.apiKey !== undefined,
  };
}

/** host:port with a port 1-65535; an IPv6 host in brackets. What the SDK's connection (and gRPC) accepts. */
function validAddress(address: string): boolean {
  const match = /^(\[[0-9A-Fa-f:.]+(?:%[^\]\s]+)?\]|[^\s:[\]/@]+):(\d{1,5})$/.exec(address);
  const port = Number(match?.[2]);
  return match !== null && port >= 1 && port <= 65_535;
}

/** The metadata key envconfig derives from a TEMPORAL_GRPC_META_<NAME> variable. */
function metadataKey(variable: string): string {
  return variable.slice('TEMPORAL_GRPC_META_'.length).toLowerCase().replaceAll('_', '-');
}

/** Why gRPC cannot send this header, or undefined. The message never holds the value (it may be a secret). */
function metadataProblem(key: string, value: string): string | undefined {
  if (!/^[0-9a-z_.-]+$/.test(key)) {
    return `"${key}" is not a gRPC metadata key (lower-case letters, digits, "-", "_" and "." only)`;
  }
  if (key.startsWith('grpc-')) return `"${key}": keys starting with grpc- are reserved for gRPC itself`;
  if (!key.endsWith('-bin') && !/^[\x20-\x7e]*$/.test(value)) {
    return `the value of "${key}" holds characters gRPC cannot send (printable ASCII only, unless the key ends in -bin)`;
  }
  return undefined;
}

function envBool(value: string | undefined): boolean {
  return value === 'true' || value === '1';
}

function readOrFail(name: string, path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new TemporalSettingsError([`${name}: cannot read the ${what} file ${path} (${code})`]);
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

/** Parses every PEM block now, so that a truncated or swapped file fails start-up, not the first handshake. */
function checkPem(name: string, bytes: Buffer, kind: 'certificate' | 'private key'): void {
  const blocks = [...bytes.toString('utf8').matchAll(PEM_BLOCK)];
  if (blocks.length === 0) throw new TemporalSettingsError([`${name}: not a PEM ${kind} (no -----BEGIN block)`]);
  for (const [block, label] of blocks) {
    try {
      if (kind === 'certificate') {
        if (label !== 'CERTIFICATE') throw new Error(`holds a ${label ?? 'non-certificate'} block`);
        new X509Certificate(block);
      } else {
        createPrivateKey(block);
      }
    } catch (err) {
      throw new TemporalSettingsError([`${name}: not a valid PEM ${kind}: ${(err as Error).message}`]);
    }
  }
}

function keyMatches(cert: Buffer, key: Buffer): boolean {
  try {
    return new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

/** envconfig's own errors name TOML fields; say which variable leads to them. */
function describeProfileError(err: unknown, env: Env): string {
  const message = (err as Error).message;
  const both = /Cannot specify both (\w+)_path and \1_data/.exec(message);
  if (both) {
    const entry = Object.values(PEM_SOURCES).find((s) => s.field === both[1]);
    return `${entry?.variable ?? 'TEMPORAL_TLS'}_PATH / _DATA: set one, not both (${message})`;
  }
  if (/^Profile '.*' not found/.test(message)) {
    return `TEMPORAL_PROFILE: ${message} (${env.TEMPORAL_CONFIG_FILE ?? 'the default config file'})`;
  }
  return `TEMPORAL_CONFIG_FILE: cannot load ${env.TEMPORAL_CONFIG_FILE ?? 'the default config file'}: ${message}`;
}
