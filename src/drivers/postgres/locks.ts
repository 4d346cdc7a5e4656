import type { Pool, PoolClient } from 'pg';
import type { LeaseAttempt, LeaseRow, LockOwner } from '../../ports/event-store.js';
import { toOwner, type LockRow } from '../lock-row.js';
import { pooledTransaction } from './tx.js';

interface StoredLock extends LockRow {
  expires_at: string;
  token: string;
}

/** Milliseconds since the epoch, by the database server's clock. */
export const NOW_MS = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;

/** The lock row (made first if there is none), locked for update; null when a wait for it ran past lock_timeout. */
async function lockedRow(client: PoolClient, table: string, name: string): Promise<(StoredLock & { now: string }) | undefined | null> {
  try {
    // Make sure a row exists to lock, so two first takers serialise on it.
    await client.query(
      `INSERT INTO ${table} (name, owner_id, pid, host, since, expires_at) VALUES ($1, '', 0, '', '', 0)
       ON CONFLICT (name) DO NOTHING`,
      [name],
    );
    // Leases run on the server's clock: the hosts sharing a store need not agree on the time.
    const { rows } = await client.query<StoredLock & { now: string }>(
      `SELECT l.owner_id, l.pid, l.host, l.since, l.expires_at, l.pid_ns, l.boot_id, l.token, ${NOW_MS} AS now FROM ${table} l WHERE l.name = $1 FOR UPDATE`,
      [name],
    );
    return rows[0];
  } catch (error) {
    if ((error as { code?: unknown }).code === '55P03') return null;
    throw error;
  }
}

/** Thrown to end a take whose row another transaction holds (its lock wait ran out). */
class RowBusy extends Error {}

/** Who the row names, read without waiting for its lock. */
async function namedHolder(client: Pool | PoolClient, table: string, name: string): Promise<LockOwner> {
  const { rows } = await client.query<StoredLock>(`SELECT owner_id, pid, host, since, pid_ns, boot_id FROM ${table} WHERE name = $1`, [name]);
  return toOwner(rows[0] ?? { owner_id: '', pid: 0, host: '', since: '', pid_ns: null, boot_id: null });
}

/**
 * Projection locks: a row per projection with a lease (ms since the epoch) that the holder renews and
 * a fencing token that grows at every acquisition. A release keeps the row, so tokens never repeat.
 */
export function pgLocks(pool: Pool, schema: string) {
  const table = `"${schema}".es_locks`;
  return {
    async tryLease(name: string, owner: LockOwner, ttlMs: number, isDead: (holder: LockOwner) => boolean): Promise<LeaseAttempt> {
      // Another taker's transaction or a commit's fence holding the row (lock_timeout, see
      // LEASE_BOUNDS) ends the transaction at once: not taken yet, whoever it is; the caller tries again.
      const attempt = await pooledTransaction(pool, async (client): Promise<LeaseAttempt | null> => {
        const row = await lockedRow(client, table, name);
        if (row === null) throw new RowBusy();
        const now = Number(row?.now ?? Date.now());
        if (row && row.owner_id !== '' && row.owner_id !== owner.id && Number(row.expires_at) > now && !isDead(toOwner(row))) {
          return { taken: false, holder: toOwner(row) };
        }
        const taken = await client.query<{ token: string }>(
          `UPDATE ${table} SET owner_id = $2, pid = $3, host = $4, since = $5, expires_at = $6, pid_ns = $7, boot_id = $8, token = token + 1
           WHERE name = $1 RETURNING token`,
          [name, owner.id, owner.pid, owner.host, owner.since, now + ttlMs, owner.pidNamespace ?? null, owner.bootId ?? null],
        );
        return { taken: true, token: Number(taken.rows[0]?.token) };
      }).catch((error: unknown) => {
        if (error instanceof RowBusy) return null;
        throw error;
      });
      return attempt ?? { taken: false, holder: await namedHolder(pool, table, name) };
    },
    async renew(name: string, ownerId: string, ttlMs: number, token?: number): Promise<boolean> {
      const result = await pool.query(
        `UPDATE ${table} SET expires_at = ${NOW_MS} + $1 WHERE name = $2 AND owner_id = $3 AND ($4::bigint IS NULL OR token = $4)`,
        [ttlMs, name, ownerId, token ?? null],
      );
      return result.rowCount === 1;
    },
    async release(name: string, ownerId: string, token?: number): Promise<void> {
      await pool.query(`UPDATE ${table} SET owner_id = '', expires_at = ${NOW_MS} WHERE name = $1 AND owner_id = $2 AND ($3::bigint IS NULL OR token = $3)`, [
        name,
        ownerId,
        token ?? null,
      ]);
    },
    async leases(): Promise<LeaseRow[]> {
      const { rows } = await pool.query<StoredLock & { name: string; live: boolean }>(
        `SELECT name, owner_id, pid, host, since, expires_at, pid_ns, boot_id, token, expires_at > ${NOW_MS} AS live
         FROM ${table} WHERE owner_id <> ''`,
      );
      return rows.map((row) => ({
        name: row.name,
        owner: toOwner(row),
        token: Number(row.token),
        expiresAt: new Date(Number(row.expires_at)).toISOString(),
        live: row.live,
      }));
    },
  };
}
