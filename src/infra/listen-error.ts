/**
 * Start-up errors of a listener, rewritten to name the variable behind them: Node says only
 * `listen EADDRINUSE 127.0.0.1:9464` or `getaddrinfo ENOTFOUND 999.1.1.1`, and an operator should not have to
 * guess which of the role's ports or hosts that was.
 */

/** The variables that configure one listener (e.g. WSS_OPS_HOST and WSS_OPS_PORT). */
export interface ListenVariables {
  readonly host: string;
  readonly port: string;
}

/** A listener could not start; the message starts with the variable to fix. */
export class ListenError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'ListenError';
  }
}

/** Maps a failed `listen` on host:port to an error naming the host or port variable. */
export function listenError(err: unknown, vars: ListenVariables, host: string, port: number): ListenError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  const message = ((): string => {
    switch (code ?? '') {
      case 'EADDRINUSE':
        return `${vars.port}: port ${port} on ${host} is already in use by another process; pick a free port (or check ${vars.host}) (${detail})`;
      case 'EACCES':
        return `${vars.port}: no permission to listen on port ${port} on ${host}; use a port above 1023 (${detail})`;
      case 'EADDRNOTAVAIL':
        return `${vars.host}: ${host} is not an address of this host; use one of its interfaces, 0.0.0.0 or 127.0.0.1 (${detail})`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
      case 'EAI_FAIL':
      case 'EAI_NONAME':
        return `${vars.host}: ${host} does not resolve to an address of this host (${detail})`;
      default:
        return `${vars.host} / ${vars.port}: cannot listen on ${host}:${port}: ${detail}`;
    }
  })();
  return new ListenError(message, { cause: err });
}

/**
 * The Temporal SDK's Prometheus exporter could not start (its runtime says `Failed to start prometheus metrics
 * exporter: Address already in use`). `configured`: the address came from WSS_TEMPORAL_METRICS_BIND; otherwise it
 * was a free loopback port picked at start-up, taken in between (a restart picks another).
 */
export function sdkMetricsExporterError(
  err: unknown,
  source: { readonly configured: boolean; readonly address: string },
): ListenError {
  const detail = err instanceof Error ? err.message : String(err);
  const what = `cannot start the Temporal SDK's metrics exporter on ${source.address}: ${detail}`;
  return new ListenError(
    source.configured
      ? `WSS_TEMPORAL_METRICS_BIND: ${what}`
      : `${what} (a free loopback port picked at start-up was taken meanwhile; start again, or set WSS_TEMPORAL_METRICS_BIND)`,
    { cause: err },
  );
}
