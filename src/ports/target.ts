import type { HandledIds, HandledMarks } from './handled.js';
import type { ShadowSlot, ShadowSpace } from './shadow.js';

/**
 * A read model in a database other than the event store's (a projection's `target`). The engine
 * runs a batch's handlers in one transaction here, then appends the checkpoint to the event store.
 */
export interface Target<Db = unknown> {
  /** The URL as es shows it (password as ***). */
  readonly display: string;
  /** True when handlers, setup and reset must be synchronous (better-sqlite3). */
  readonly synchronous: boolean;
  /**
   * The longest event id (UTF-8 bytes) its handled-id table can record, when it has a limit. Stores
   * written before es capped ids may hold longer ones: each is a fault of its event, not a wedge.
   */
  readonly maxIdBytes?: number;
  /** The handled-id table through `db` (a connection of this target, in or out of a transaction). */
  handled(db: Db): HandledIds;
  /** Its marks (`es_handled_marks`) through `db`. */
  marks(db: Db): HandledMarks;
  /** A lost connection, a busy or deadlocked database: worth retrying the transaction, not a fault. */
  isTransient(error: unknown): boolean;
  /** Runs `work` in one transaction: commits when it returns, rolls back and rethrows when it throws. */
  transaction<T>(work: (db: Db) => T | Promise<T>): Promise<T>;
  /** Runs `work` on a connection outside any transaction (the chunked prune commits chunk by chunk). */
  withConnection<T>(work: (db: Db) => T | Promise<T>): Promise<T>;
  /** Where a copy of a projection's read model is built beside the live one, in this database. */
  shadowSpace(name: string, slot: ShadowSlot): ShadowSpace<Db>;
  close(): Promise<void>;
}
