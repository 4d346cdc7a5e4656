import type { Database } from 'better-sqlite3';

/** Deletes a stream's events up to a version; callers keep the last ones (checkpoint streams). */
export function prepareTrim(db: Database) {
  const trim = db.prepare<[string, number]>('DELETE FROM events WHERE stream_id = ? AND version <= ?');
  return (streamId: string, upToVersion: number): void => {
    if (upToVersion > 0) trim.run(streamId, upToVersion);
  };
}
