import type { AppendResult } from './event-log.js';
import type { CommitUnit } from './projection-store.js';

/**
 * A copy of a projection's read model built beside the live one: the shadow that `rebuild --shadow`
 * builds and `promote` swaps in, or the copy `verify` builds and compares.
 */
export type ShadowSlot = 'shadow' | 'verify';

/** Where a copy stands, recorded in its own database in the same transaction as its writes. */
export interface ShadowMark {
  /** This copy's identity: a new build gets a new one, so a promoted or dropped copy's leftovers are told apart. */
  id: string;
  /** The projection version that builds it. */
  version: number;
  position: number;
  /** The store's resume token at `position`, as the store gave it. */
  cursor?: unknown;
}

/** One side of a row that differs: its key, and the row as each side has it (null where it has none). */
export interface RowDifference {
  kind: 'onlyLive' | 'onlyRebuilt' | 'different';
  key: Record<string, unknown>;
  live: Record<string, unknown> | null;
  rebuilt: Record<string, unknown> | null;
}

export interface TableComparison {
  name: string;
  onlyLive: number;
  onlyRebuilt: number;
  different: number;
  /** The first rows of each kind (at most `limit` each). */
  examples: RowDifference[];
  /** Said when the two tables are not comparable column by column (a column only one side has). */
  note?: string;
}

/** A consistent view of the live read model and the copy, taken at one instant. */
export interface Snapshot {
  compare(table: string, limit: number): Promise<TableComparison>;
  close(): Promise<void>;
}

/**
 * A copy's home, given by the driver of the read model's database: another file beside a SQLite
 * one, another schema of a PostgreSQL database. Handlers keep writing the names they write: inside
 * `transaction`, unqualified names mean the copy's tables.
 */
export interface ShadowSpace<Db = unknown> {
  /** Where the copy lives, for messages. */
  readonly display: string;
  /** True when handlers must be synchronous here (SQLite). */
  readonly synchronous: boolean;
  isTransient(error: unknown): boolean;
  /** One transaction of the copy's database in which the projection's tables are the copy's. */
  transaction<T>(work: (db: Db) => T | Promise<T>): Promise<T>;
  /**
   * In such a transaction: records where the copy stands, if it stood at `previous` (null: a new
   * copy, none recorded yet). False when it did not: another process moved it on (nothing recorded).
   */
  record(db: Db, mark: ShadowMark, previous: Pick<ShadowMark, 'id' | 'position'> | null): boolean | Promise<boolean>;
  /** Where the copy stands; null when there is none. */
  mark(): Promise<ShadowMark | null>;
  /** The tables of `tables` the copy does not hold. */
  missing(tables: readonly string[]): Promise<string[]>;
  /**
   * True when the copy lives in the event store's own database: `promote` commits the live checkpoint
   * with the swap. False for a target (another database): `swap`, between an intent and a checkpoint.
   */
  readonly inStore: boolean;
  /**
   * In the store's own database: makes the copy's tables the live ones under the live names (indexes
   * and constraints with them), in one transaction that also commits `unit` (the live checkpoint).
   * Readers see the old tables until it commits and the new ones after. The copy is gone after.
   */
  promote(tables: readonly string[], unit: CommitUnit): Promise<AppendResult>;
  /**
   * In a target: makes the copy's tables the live ones at once (one transaction, or one atomic
   * statement), and runs `after(db)` in a transaction of the target (the handled ids). Readers see old
   * or new, never a mix. A swap done before (a promote killed after it) is not done again, `after` is.
   */
  swap(tables: readonly string[], after: (db: Db) => void | Promise<void>): Promise<void>;
  /** Turns a `verify` copy into the shadow (`--keep`); the shadow's space must be empty. */
  keepAsShadow(): Promise<void>;
  /** Removes the copy (its tables, its mark); nothing when there is none. */
  drop(): Promise<void>;
  /** Takes a snapshot of both sides: from when it resolves, neither changes for the comparison. */
  snapshot(): Promise<Snapshot>;
  close(): Promise<void>;
}
