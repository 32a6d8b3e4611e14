import { isIP } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { Client, Connection } from '@temporalio/client';
import type { ClientInterceptors } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { NativeConnection } from '@temporalio/worker';
import type { Logger } from './logger';
import type { TemporalSettings } from './temporal-settings';
import { describeTemporalSettings } from './temporal-settings';
import { SEARCH_ATTRIBUTE_KEYS } from '../delivery/search-attributes';

const INDEXED_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KEYWORD_LIST: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/**
 * Every Temporal connection of every role is opened here, from the one {@link TemporalSettings}: address, TLS
 * (server CA, client certificate and key, server name), API key and metadata are the same for the client and the
 * worker's native connection. A connection that cannot be made within `connectTimeoutMs` fails start-up with a
 * {@link TemporalConnectError} that names the variables to check.
 */
export async function connectTemporalClient(
  settings: TemporalSettings,
  /** The client's interceptors (the consumer's tracing: a workflow start carries the trace context). */
  interceptors: ClientInterceptors = {},
): Promise<{ client: Client; connection: Connection }> {
  const connection = await withConnectErrors(settings, 'client', async () => {
    const opened = await Connection.connect({
      address: settings.address,
      tls: settings.tls === false ? false : { ...settings.tls },
      ...(settings.apiKey !== undefined ? { apiKey: settings.apiKey } : {}),
      metadata: { ...settings.metadata },
      connectTimeout: settings.connectTimeoutMs,
    });
    return opened;
  });
  return { client: new Client({ connection, namespace: settings.namespace, interceptors }), connection };
}

/** The worker's native (Rust core) connection, with the same settings as {@link connectTemporalClient}. */
export async function connectTemporalWorker(settings: TemporalSettings): Promise<NativeConnection> {
  // Loaded here, not at the top: the API and the consumer never load the worker's native module.
  const { NativeConnection: Native } = await import('@temporalio/worker');
  return withConnectErrors(settings, 'worker', () => {
    const connecting = Native.connect({
      address: settings.address,
      tls: settings.tls === false ? false : { ...settings.tls },
      ...(settings.apiKey !== undefined ? { apiKey: settings.apiKey } : {}),
      metadata: { ...settings.metadata },
    });
    // The native connection has no connect timeout of its own; one that succeeds after ours gave up is closed.
    return new Promise<NativeConnection>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no answer within ${settings.connectTimeoutMs} ms (WSS_TEMPORAL_CONNECT_TIMEOUT_MS)`));
        connecting.then((late) => late.close()).catch(() => undefined);
      }, settings.connectTimeoutMs);
      connecting.then(
        (connection) => {
          clearTimeout(timer);
          resolve(connection);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  });
}

/** Start-up could not reach Temporal with the configured settings. The message names what to check; no secrets. */
export class TemporalConnectError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'TemporalConnectError';
  }
}

async function withConnectErrors<T>(settings: TemporalSettings, role: string, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (err) {
    // grpc-js retries a failed handshake until the deadline and then says only that; ask TLS itself why.
    const handshake = /deadline/i.test(causeChain(err)) ? await diagnoseTls(settings) : undefined;
    const detail = handshake !== undefined ? `${causeChain(err)}: TLS handshake: ${handshake}` : causeChain(err);
    const { address, tls, apiKey } = describeTemporalSettings(settings);
    throw new TemporalConnectError(
      `cannot connect the ${role} to Temporal at ${String(address)} (tls: ${String(tls)}, API key: ${apiKey ? 'set' : 'not set'}): ` +
        `${redact(detail, settings)}. Check ${suspects(detail, settings).join(', ')}`,
      { cause: err },
    );
  }
}

/**
 * One TLS handshake with the same CA, client pair and server name, for its error only: undefined when TLS is off,
 * the handshake succeeds, or it gives no answer within the connect timeout.
 */
async function diagnoseTls(settings: TemporalSettings): Promise<string | undefined> {
  if (settings.tls === false) return undefined;
  const tls = settings.tls;
  const { host, port } = splitAddress(settings.address);
  const servername = tls.serverNameOverride ?? (isIP(host) === 0 ? host : undefined);
  return new Promise((resolve) => {
    const socket = connectTls({
      host,
      port,
      ...(servername !== undefined ? { servername } : {}),
      // Node checks the name against `servername`, else the host: the same rule as the SDK's override.
      ...(tls.serverRootCACertificate !== undefined ? { ca: tls.serverRootCACertificate } : {}),
      ...(tls.clientCertPair !== undefined ? { cert: tls.clientCertPair.crt, key: tls.clientCertPair.key } : {}),
      ALPNProtocols: ['h2'],
    });
    const done = (reason: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done(undefined), settings.connectTimeoutMs);
    // In TLS 1.3 a server refuses a client certificate just after the handshake: give its alert a moment.
    socket.once('secureConnect', () => setTimeout(() => done(undefined), 500).unref());
    socket.once('error', (e: Error) => done(e.message));
  });
}

function splitAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  return match ? { host: match[1] ?? address, port: Number(match[2]) } : { host: address, port: 7233 };
}

/** The messages of an error and its causes: the SDK wraps the gRPC status in "Failed to connect". */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 5; e = e.cause) {
    if (!parts.includes(e.message)) parts.push(e.message);
  }
  return parts.length > 0 ? parts.join(': ') : String(err);
}

function redact(text: string, settings: TemporalSettings): string {
  return settings.apiKey !== undefined && settings.apiKey.length > 0
    ? text.split(settings.apiKey).join('<api key>')
    : text;
}

/** The variables most likely behind a failure, from what the server or the TLS layer said. */
function suspects(detail: string, settings: TemporalSettings): string[] {
  const text = detail.toLowerCase();
  if (/unauthenticated|401|api key|authorization|permission|403/.test(text)) {
    return ['TEMPORAL_API_KEY', 'TEMPORAL_NAMESPACE'];
  }
  if (
    /alert[^.]*?(unknown ?ca|bad ?certificate|certificate ?required|certificate ?unknown)|certificate (unknown|required)|bad certificate|ssl certificate|no required ssl|\b400\b|\b49[56]\b/.test(
      text,
    )
  ) {
    return ['TEMPORAL_TLS_CLIENT_CERT_PATH/_DATA', 'TEMPORAL_TLS_CLIENT_KEY_PATH/_DATA'];
  }
  if (/altnames|notvalidforname|not valid for name|hostname/.test(text)) {
    return ['TEMPORAL_TLS_SERVER_NAME', 'TEMPORAL_ADDRESS'];
  }
  if (/certificate|unknownissuer|unknown issuer|self.signed|handshake|ssl|tls|notvalidforname|subject/.test(text)) {
    return ['TEMPORAL_TLS_SERVER_CA_CERT_PATH/_DATA', 'TEMPORAL_TLS_SERVER_NAME', 'TEMPORAL_TLS'];
  }
  const checks = ['TEMPORAL_ADDRESS'];
  if (settings.tls === false) checks.push('TEMPORAL_TLS (the server may want TLS)');
  return checks;
}

/**
 * Registers the service's custom search attributes when they are missing, so a fresh dev server or cluster
 * works without a manual `temporal operator search-attribute create`. Clusters that forbid it (Temporal Cloud
 * manages attributes per namespace) only get a warning: create them there by hand, as the README says.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string, log: Logger): Promise<void> {
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const known = new Set(Object.keys(existing.customAttributes ?? {}));
    const missing: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
    for (const key of SEARCH_ATTRIBUTE_KEYS) {
      const type = INDEXED_TYPES[key.type];
      if (!known.has(key.name) && type !== undefined) missing[key.name] = type;
    }
    if (Object.keys(missing).length === 0) return;
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
    log.info({ added: Object.keys(missing) }, 'registered search attributes');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not register search attributes; create them by hand');
  }
}

/** Connects, registers the search attributes (see {@link ensureSearchAttributes}) and disconnects: a start-up step. */
export async function registerSearchAttributes(settings: TemporalSettings, log: Logger): Promise<void> {
  const { connection } = await connectTemporalClient(settings);
  try {
    await ensureSearchAttributes(connection, settings.namespace, log);
  } finally {
    await connection.close();
  }
}
