import type { Database } from 'better-sqlite3';
import type { Pending } from '../../ports/event-store.js';

type Ordinal = { n: number | null } | undefined;
type First = { recorded_at: string } | undefined;

/**
 * What a projection at `after` still has to process, and how old the oldest of it is, from the
 * ordinals (see ordinals.ts): a count is the difference of two ordinals found by index seeks, so
 * status costs the same 5M events behind as caught up. The oldest pending event is the first one by
 * position, since recorded_at never goes back along positions. Where a row lacks its ordinal (an
 * older es wrote it during an upgrade), the rows are counted instead: slower, still exact.
 */
export function preparePending(db: Database) {
  const lastSeq = db.prepare<[], Ordinal>('SELECT seq AS n FROM events ORDER BY position DESC LIMIT 1');
  const seqAt = db.prepare<[number], Ordinal>('SELECT seq AS n FROM events WHERE position <= ? ORDER BY position DESC LIMIT 1');
  const firstAfter = db.prepare<[number], First>('SELECT recorded_at FROM events NOT INDEXED WHERE position > ? AND system = 0 ORDER BY position LIMIT 1');
  const OF_TYPE = 'FROM events INDEXED BY events_type_position WHERE system = 0 AND type = ?';
  const lastOfType = db.prepare<[string], Ordinal>(`SELECT type_seq AS n ${OF_TYPE} ORDER BY position DESC LIMIT 1`);
  const ofTypeAt = db.prepare<[string, number], Ordinal>(`SELECT type_seq AS n ${OF_TYPE} AND position <= ? ORDER BY position DESC LIMIT 1`);
  const firstOfTypeAfter = db.prepare<[string, number], First>(`SELECT recorded_at ${OF_TYPE} AND position > ? ORDER BY position LIMIT 1`);
  const countAll = db.prepare<[number, number], { n: number; oldest: string | null }>(
    'SELECT count(*) AS n, min(recorded_at) AS oldest FROM events NOT INDEXED WHERE position > ? AND position <= ? AND system = 0',
  );
  const countTypes = db.prepare<[number, number, string], { n: number; oldest: string | null }>(
    `SELECT count(*) AS n, min(recorded_at) AS oldest FROM events
     WHERE system = 0 AND position > ? AND position <= ? AND type IN (SELECT value FROM json_each(?))`,
  );

  /** Events in (after, end]: null when a row lacks its ordinal. A missing row counts as 0. */
  const between = (last: Ordinal, at: Ordinal): number | null => {
    if (last === undefined) return 0;
    if (last.n === null || (at !== undefined && at.n === null)) return null;
    return last.n - (at?.n ?? 0);
  };

  const exact = (after: number, types: readonly string[] | null, upTo: number): Pending => {
    const row = types === null ? countAll.get(after, upTo) : countTypes.get(after, upTo, JSON.stringify(types));
    return { count: row?.n ?? 0, oldestRecordedAt: row?.oldest ?? null };
  };

  // The last ordinal at or below `upTo` (the last of all when there is no bound).
  const lastAt = (upTo: number): Ordinal => (upTo >= Number.MAX_SAFE_INTEGER ? lastSeq.get() : seqAt.get(upTo));
  const lastOfTypeAt = (type: string, upTo: number): Ordinal => (upTo >= Number.MAX_SAFE_INTEGER ? lastOfType.get(type) : ofTypeAt.get(type, upTo));

  const fast = (after: number, types: readonly string[] | null, upTo: number): Pending | null => {
    if (upTo <= after) return { count: 0, oldestRecordedAt: null };
    if (types === null) {
      const count = between(lastAt(upTo), seqAt.get(after));
      if (count === null) return null;
      return { count, oldestRecordedAt: count > 0 ? (firstAfter.get(after)?.recorded_at ?? null) : null };
    }
    let count = 0;
    let oldest: string | null = null;
    for (const type of new Set(types)) {
      const ofType = between(lastOfTypeAt(type, upTo), ofTypeAt.get(type, after));
      if (ofType === null) return null;
      if (ofType === 0) continue;
      count += ofType;
      const first = firstOfTypeAfter.get(type, after)?.recorded_at ?? null;
      if (first !== null && (oldest === null || first < oldest)) oldest = first;
    }
    return { count, oldestRecordedAt: oldest };
  };

  // One read transaction: every seek sees the same snapshot of the log.
  const pending = db.transaction(
    (after: number, types: readonly string[] | null, upTo: number): Pending => fast(after, types, upTo) ?? exact(after, types, upTo),
  );
  return (after: number, types: readonly string[] | null, upTo = Number.MAX_SAFE_INTEGER): Pending => pending.deferred(after, types, upTo);
}
