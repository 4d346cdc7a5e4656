import type { Pool } from 'pg';
import type { WorkerRow } from '../../ports/event-store.js';
import { NOW_MS } from './locks.js';

/** The workers sharing the store (`run --follow`): a row each, live while its heartbeat is ahead (server clock). */
export function pgWorkers(pool: Pool, schema: string) {
  const table = `"${schema}".es_workers`;
  return {
    async heartbeat(worker: Omit<WorkerRow, 'expiresAt'>, ttlMs: number): Promise<void> {
      await pool.query(
        `WITH gone AS (DELETE FROM ${table} WHERE expires_at < ${NOW_MS} - 3600000 AND id <> $1)
         INSERT INTO ${table} (id, pid, host, since, expires_at) VALUES ($1, $2, $3, $4, ${NOW_MS} + $5)
         ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
        [worker.id, worker.pid, worker.host, worker.since, ttlMs],
      );
    },
    async live(): Promise<WorkerRow[]> {
      const { rows } = await pool.query<{ id: string; pid: number; host: string; since: string; expires_at: string }>(
        `SELECT id, pid, host, since, expires_at FROM ${table} WHERE expires_at > ${NOW_MS} ORDER BY since, id`,
      );
      return rows.map((w) => ({ id: w.id, pid: w.pid, host: w.host, since: w.since, expiresAt: new Date(Number(w.expires_at)).toISOString() }));
    },
    async leave(id: string): Promise<void> {
      await pool.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
    },
  };
}
