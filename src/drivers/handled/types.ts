export type { HandledEntry, PruneQuery } from '../../ports/handled.js';
import type { HandledEntry } from '../../ports/handled.js';

/**
 * One DELETE removes at most this many rows, so pruning a large table never holds a long lock on
 * the read model; the next chunk goes once the previous one committed.
 */
export const PRUNE_CHUNK = 5000;

export const TABLE = 'es_handled';

/** `es_handled_marks` (see HandledMarks in ports/handled.ts). */
export const MARKS = `${TABLE}_marks`;

export type Dialect = 'sqlite' | 'postgres' | 'mysql';

/** Ids and positions are checked before SQL sees them: a bad one is the caller's bug, said plainly. */
export function checkEntries(entries: readonly HandledEntry[]): void {
  for (const { id, position } of entries) {
    if (typeof id !== 'string' || id === '') throw new TypeError('a handled id must be a non-empty string');
    if (!Number.isSafeInteger(position) || position < 0) throw new TypeError(`handled id ${id}: position must be a whole number`);
  }
}
