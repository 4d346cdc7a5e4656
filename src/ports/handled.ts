import type { Maybe } from '../core/maybe.js';

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
 * The handled-id table (`es_handled`) through one connection of a read model's database. `among`
 * and `record` belong in the caller's transaction, beside the writes they guard; `prune` wants no
 * open transaction, as each of its chunks commits on its own.
 */
export interface HandledIds {
  /** Creates the table and its pruning index when missing. */
  ensure(): Maybe<void>;
  /** Which of `ids` the projection has handled: one query for a whole batch. */
  among(projection: string, ids: readonly string[]): Maybe<Set<string>>;
  /** Records ids, a duplicate being a no-op; returns how many were new. */
  record(projection: string, entries: readonly HandledEntry[], at?: Date): Maybe<number>;
  /** Forgets the projection's ids: all of them, or those at or after `fromPosition`. */
  clear(projection: string, fromPosition?: number): Maybe<number>;
  /** Removes ids older than `before` and at or below `atOrBelow`, in bounded chunks. */
  prune(query: PruneQuery): Maybe<number>;
}

/**
 * `es_handled_marks`: per projection, the highest position whose events a target transaction
 * applied and recorded, written in that same transaction. It outlives a dropped `es_handled`, so a
 * target holding a projection's effects past its checkpoint without the ids that guard them is seen.
 */
export interface HandledMarks {
  /** Whether `es_handled` exists. */
  handledExists(): Maybe<boolean>;
  /** The projection's mark, or null (no table or no row). */
  markOf(projection: string): Maybe<number | null>;
  ensure(): Maybe<void>;
  /** Raises the mark to `position` (never lowers it). */
  mark(projection: string, position: number): Maybe<void>;
  /** Forgets the mark (a rebuild), or lowers it below `fromPosition` (a replay-from). */
  clear(projection: string, fromPosition?: number): Maybe<void>;
}
