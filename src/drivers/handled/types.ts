/** One handled event: its id and global position. */
export interface HandledEntry {
  id: string;
  position: number;
}

/** What `prune` removes: one projection's ids older than `before` and at or below `atOrBelow`. */
export interface PruneQuery {
  projection: string;
  before: Date;
  atOrBelow: number;
  /** Rows per DELETE statement (each its own short transaction); default PRUNE_CHUNK. */
  chunk?: number;
}

/**
 * One DELETE removes at most this many rows, so pruning a large table never holds a long lock on
 * the read model; the next chunk goes once the previous one committed.
 */
export const PRUNE_CHUNK = 5000;

export const TABLE = 'es_handled';

export type Dialect = 'sqlite' | 'postgres' | 'mysql';

/** Ids and positions are checked before SQL sees them: a bad one is the caller's bug, said plainly. */
export function checkEntries(entries: readonly HandledEntry[]): void {
  for (const { id, position } of entries) {
    if (typeof id !== 'string' || id === '') throw new TypeError('a handled id must be a non-empty string');
    if (!Number.isSafeInteger(position) || position < 0) throw new TypeError(`handled id ${id}: position must be a whole number`);
  }
}
