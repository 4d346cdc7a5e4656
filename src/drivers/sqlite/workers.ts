import type { Database } from 'better-sqlite3';
import type { WorkerRow } from '../../ports/event-store.js';

/** The workers sharing the store (`run --follow`): a row each, live while its heartbeat is ahead. */
export function prepareWorkers(db: Database) {
  const beat = db.prepare(
    `INSERT INTO es_workers (id, pid, host, since, expires_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
  );
  // Rows of workers that died long ago are dropped by the others' heartbeats.
  const forget = db.prepare<[number]>('DELETE FROM es_workers WHERE expires_at < ?');
  const live = db.prepare<[number], { id: string; pid: number; host: string; since: string; expires_at: number }>(
    'SELECT id, pid, host, since, expires_at FROM es_workers WHERE expires_at > ? ORDER BY since, id',
  );
  const leave = db.prepare<[string]>('DELETE FROM es_workers WHERE id = ?');

  return {
    heartbeat: (worker: Omit<WorkerRow, 'expiresAt'>, ttlMs: number): void => {
      const now = Date.now();
      beat.run(worker.id, worker.pid, worker.host, worker.since, now + ttlMs);
      forget.run(now - 3_600_000);
    },
    liveWorkers: (): WorkerRow[] =>
      live.all(Date.now()).map((w) => ({ id: w.id, pid: w.pid, host: w.host, since: w.since, expiresAt: new Date(w.expires_at).toISOString() })),
    leave: (id: string): void => {
      leave.run(id);
    },
  };
}
