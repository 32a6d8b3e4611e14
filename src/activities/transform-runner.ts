import type { Endpoint } from '../domain/endpoint';
import type { EventEnvelope } from '../domain/event';
import type { CompiledTransform } from '../transform/transform';
import { compileTransform, runTransform } from '../transform/transform';

export interface TransformLimits {
  /** Wall-clock budget of one evaluation. Default 1000 ms. */
  readonly timeoutMs: number;
  /** Largest body a transform may produce, in UTF-8 bytes. Default 1 MiB. */
  readonly maxOutputBytes: number;
}

const DEFAULT_LIMITS: TransformLimits = { timeoutMs: 1000, maxOutputBytes: 1024 * 1024 };
const MAX_CACHED = 5000;

/**
 * Runs endpoint transforms inside the delivery activity (no extra Temporal activity per attempt). Compiled
 * expressions are cached per endpoint version, so a hot endpoint parses its expression once.
 */
export function createTransformRunner(limits: TransformLimits = DEFAULT_LIMITS) {
  const cache = new Map<string, { version: string; compiled: CompiledTransform }>();
  return async (endpoint: Endpoint, envelope: EventEnvelope) => {
    if (endpoint.transform === undefined) return undefined;
    const key = `${endpoint.tenantId}/${endpoint.id}`;
    let entry = cache.get(key);
    if (!entry || entry.version !== endpoint.updatedAt) {
      if (cache.size >= MAX_CACHED) cache.clear();
      entry = { version: endpoint.updatedAt, compiled: compileTransform(endpoint.transform) };
      cache.set(key, entry);
    }
    return runTransform(entry.compiled, envelope, limits);
  };
}
