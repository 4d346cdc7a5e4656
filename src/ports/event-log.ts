import type { ExpectedVersion, NewEvent, NewStreamEvent, StoredEvent } from '../core/events.js';

export interface AppendResult {
  /** Position of the last event appended. */
  position: number;
  /** Stream version after the append. */
  version: number;
}

export interface AppendOptions {
  /**
   * PostgreSQL: a node-postgres client inside the caller's open transaction (the transactional
   * outbox). The events appear when the caller commits and vanish if it rolls back.
   */
  client?: unknown;
}

export interface ReadOptions {
  /** Only this stream (system streams included when named). */
  streamId?: string;
  /** First position to return (inclusive). */
  from?: number;
  limit?: number;
  includeSystem?: boolean;
}

export interface ImportResult {
  appended: number;
  skipped: number;
  lastPosition: number | null;
}

/** The log itself: appends and reads, as applications and the CLI's `append`, `import`, `read` use it. */
export interface EventLog {
  readonly url: string;
  /** A busy or locked database, a lost connection: worth retrying, not a fault. */
  isTransient(error: unknown): boolean;
  append(streamId: string, events: NewEvent[], expectedVersion?: ExpectedVersion, options?: AppendOptions): Promise<AppendResult>;
  /**
   * Appends events of many streams in one transaction, all or nothing; ids already stored (or seen
   * earlier in the same call) are skipped when identical and refused when they differ (USAGE, with
   * `details.index`, the event's index over all chunks, and `details.event`, the object given).
   * The chunks are awaited inside the transaction, so an input of any size is appended with memory
   * bounded by one chunk. A chunk source that throws, or any error, rolls everything back; other
   * connections see nothing of it before the commit. Other writes through the same store object
   * are refused while it runs (they would join its transaction).
   */
  importEvents<E extends NewStreamEvent>(chunks: AsyncIterable<readonly E[]> | Iterable<readonly E[]>): Promise<ImportResult>;
  /** `importEvents` of one array. */
  appendMany(events: readonly NewStreamEvent[]): Promise<ImportResult>;
  /** Every matching event at once: for small reads (one stream, a limit). */
  read(options: ReadOptions): Promise<StoredEvent[]>;
  /**
   * The same events, a page of at most `pageSize` at a time, each page read when the caller asks for
   * it, so memory stays flat with the log's size and a caller that stops early reads no further. A
   * page also stops once its events' data and metadata reach `maxBytes` (default
   * DEFAULT_BATCH_BYTES; always one event at least). An event larger than the process can load is
   * refused (ENVIRONMENT) before its data is fetched.
   */
  readPages(options: ReadOptions, pageSize: number, maxBytes?: number): AsyncIterable<StoredEvent[]>;
  lastEvent(streamId: string): Promise<StoredEvent | undefined>;
  /** Position of the last event outside system streams (0 when there is none). */
  head(): Promise<number>;
  close(): Promise<void>;
}
