import type { EventStore } from '../ports/event-store.js';
import { parseStoreUrl } from './location.js';
import { SqliteEventStore } from './sqlite/store.js';

export interface OpenStoreOptions {
  /** Create a missing store (commands that add events). */
  create?: boolean;
}

export { parseStoreUrl, type StoreLocation } from './location.js';

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<EventStore<unknown>> {
  const location = parseStoreUrl(url);
  if (location.kind === 'postgres') {
    const { PostgresEventStore } = await import('./postgres/store.js');
    return (await PostgresEventStore.open(location.url, options)) as unknown as EventStore<unknown>;
  }
  return new SqliteEventStore(location.path, options) as EventStore<unknown>;
}

export function openSqliteStore(path: string, options: OpenStoreOptions = {}): SqliteEventStore {
  return new SqliteEventStore(path, options);
}
