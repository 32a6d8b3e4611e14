import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Logger } from './logger';
import { SEARCH_ATTRIBUTE_KEYS } from '../delivery/search-attributes';

const INDEXED_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KEYWORD_LIST: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** A client connection to Temporal's frontend. */
export async function connectTemporalClient(
  address: string,
  namespace: string,
): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address });
  return { client: new Client({ connection, namespace }), connection };
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
export async function registerSearchAttributes(address: string, namespace: string, log: Logger): Promise<void> {
  const { connection } = await connectTemporalClient(address, namespace);
  try {
    await ensureSearchAttributes(connection, namespace, log);
  } finally {
    await connection.close();
  }
}
