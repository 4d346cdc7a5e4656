import type { Database } from 'better-sqlite3';
import { isBusy } from './errors.js';

/**
 * Taking SQLite's write lock. SQLite's own busy handler sleeps longer and longer between tries (up
 * to 100 ms), so a writer waiting in another process almost never meets the brief moment between
 * two of a projection's batch transactions, and waits through many batches. Tried every 1-3 ms, it
 * gets in at the first gap.
 */
const RETRY_MIN_MS = 1;
const RETRY_SPREAD_MS = 2;

/**
 * The pause a batch loop makes before its next write transaction, after one that held the lock for
 * 100 ms or more: 1/20 of that hold (5% of the throughput at most), capped at SQLite's longest
 * busy-handler sleep so a waiting writer of another program gets in too. Shorter transactions pay
 * nothing: reading the next batch leaves a gap that a writer trying every few milliseconds finds.
 */
const PAUSE_AFTER_MS = 100;
const PAUSE_SHARE = 1 / 20;
const PAUSE_MAX_MS = 100;

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** BEGIN IMMEDIATE, trying again every few milliseconds until `timeoutMs`; then SQLITE_BUSY as before. */
export function beginImmediate(db: Database, timeoutMs: number): void {
  db.pragma('busy_timeout = 0');
  try {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      try {
        db.exec('BEGIN IMMEDIATE');
        return;
      } catch (error) {
        if (!isBusy(error) || performance.now() >= deadline) throw error;
      }
      sleepSync(RETRY_MIN_MS + Math.random() * RETRY_SPREAD_MS);
    }
  } finally {
    db.pragma(`busy_timeout = ${Math.round(timeoutMs)}`);
  }
}

/** One connection's write transactions, remembering how long the last held the lock. */
export class Writer {
  private heldMs = 0;
  private endedAt = 0;

  constructor(
    private readonly db: Database,
    private readonly timeoutMs: number,
  ) {}

  /** Runs `work` in a write transaction (in a savepoint of the caller's, when one is open). */
  run<T>(work: () => T): T {
    if (this.db.inTransaction) return this.db.transaction(work)();
    beginImmediate(this.db, this.timeoutMs);
    const began = performance.now();
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw error;
    } finally {
      this.endedAt = performance.now();
      this.heldMs = this.endedAt - began;
    }
  }

  /** How long to wait before the next write transaction so other processes' writers get theirs. */
  pauseMs(): number {
    if (this.heldMs < PAUSE_AFTER_MS) return 0;
    const wanted = Math.min(PAUSE_MAX_MS, this.heldMs * PAUSE_SHARE);
    const left = wanted - (performance.now() - this.endedAt);
    return left >= 1 ? Math.ceil(left) : 0;
  }
}
