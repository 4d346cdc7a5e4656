import type { PoolConnection } from 'mysql2/promise';

/**
 * Runs `work` between BEGIN and COMMIT on `conn`; rolls back and rethrows when it throws. A
 * connection that is gone or silent (ETIMEDOUT) cannot roll back: its caller destroys it, which does.
 */
export async function inTransaction<T>(conn: PoolConnection, work: (conn: PoolConnection) => T | Promise<T>): Promise<T> {
  await conn.beginTransaction();
  try {
    const result = await work(conn);
    await conn.commit();
    return result;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ETIMEDOUT') await conn.rollback().catch(() => {});
    throw error;
  }
}
