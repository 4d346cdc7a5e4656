import type { Pool } from 'pg';
import type { LockOwner } from '../../ports/event-store.js';
import { toOwner, type LockRow } from '../lock-row.js';

interface StoredLock extends LockRow {
  expires_at: string;
}

/** Milliseconds since the epoch, by the database server's clock. */
const NOW_MS = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;

/** Projection locks: a row per held lock with a lease (ms since the epoch) that the holder renews. */
export function pgLocks(pool: Pool, schema: string) {
  const table = `"${schema}".es_locks`;
  return {
    async tryLock(name: string, owner: LockOwner, ttlMs: number, isDead: (holder: LockOwner) => boolean): Promise<LockOwner | null> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        // Make sure a row exists to lock, so two first takers serialise on it.
        await client.query(
          `INSERT INTO ${table} (name, owner_id, pid, host, since, expires_at) VALUES ($1, '', 0, '', '', 0)
           ON CONFLICT (name) DO NOTHING`,
          [name],
        );
        // Leases run on the server's clock: the hosts sharing a store need not agree on the time.
        const { rows } = await client.query<StoredLock & { now: string }>(
          `SELECT l.owner_id, l.pid, l.host, l.since, l.expires_at, l.pid_ns, l.boot_id, ${NOW_MS} AS now FROM ${table} l WHERE l.name = $1 FOR UPDATE`,
          [name],
        );
        const row = rows[0];
        const now = Number(row?.now ?? Date.now());
        if (row && row.owner_id !== '' && row.owner_id !== owner.id && Number(row.expires_at) > now && !isDead(toOwner(row))) {
          await client.query('ROLLBACK');
          return toOwner(row);
        }
        await client.query(
          `UPDATE ${table} SET owner_id = $2, pid = $3, host = $4, since = $5, expires_at = $6, pid_ns = $7, boot_id = $8 WHERE name = $1`,
          [name, owner.id, owner.pid, owner.host, owner.since, now + ttlMs, owner.pidNamespace ?? null, owner.bootId ?? null],
        );
        await client.query('COMMIT');
        return null;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async renew(name: string, ownerId: string, ttlMs: number): Promise<boolean> {
      const result = await pool.query(`UPDATE ${table} SET expires_at = ${NOW_MS} + $1 WHERE name = $2 AND owner_id = $3`, [
        ttlMs,
        name,
        ownerId,
      ]);
      return result.rowCount === 1;
    },
    async release(name: string, ownerId: string): Promise<void> {
      await pool.query(`DELETE FROM ${table} WHERE name = $1 AND owner_id = $2`, [name, ownerId]);
    },
  };
}
