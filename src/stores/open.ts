import { resolve } from 'node:path';
import { usage } from '../core/errors.js';
import type { EventStore } from '../ports/event-store.js';
import { SqliteEventStore } from './sqlite/store.js';

export interface OpenStoreOptions {
  /** Create a missing store (commands that add events). */
  create?: boolean;
}

export type StoreLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** `sqlite:<path>`, a bare file path, or `postgres://…`. */
export function parseStoreUrl(url: string): StoreLocation {
  if (url.trim() === '') throw usage('the store location is empty (--db, ES_DB or "db" in es.config.json)');
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url };
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw usage(`"${url}" names no file`);
    return { kind: 'sqlite', path: resolve(path) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw usage(`"${url}": unsupported store (use sqlite:<path> or a file path)`);
  return { kind: 'sqlite', path: resolve(url) };
}

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
