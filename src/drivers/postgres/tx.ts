import type { ClientBase, Pool, PoolClient } from 'pg';

export interface TransactionOptions {
  /** The statement that ends the transaction when `work` returns (a fence that decides at COMMIT). */
  commit?: string;
  /** A lost connection: no ROLLBACK is sent (it would queue behind the stuck statement), the client is destroyed. */
  isLost?: (error: unknown) => boolean;
}

/**
 * Runs `work` between BEGIN and COMMIT on `client`; ROLLBACK when it throws, and the error goes on.
 * Resolves `broken` when the connection cannot be trusted any more (its ROLLBACK failed, or it was
 * lost), for a pooled client to be destroyed rather than reused.
 */
export async function inTransaction<T>(
  client: ClientBase,
  work: (client: ClientBase) => Promise<T>,
  options: TransactionOptions & { broken?: (error: unknown) => void } = {},
): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work(client);
    await client.query(options.commit ?? 'COMMIT');
    return result;
  } catch (error) {
    if (options.isLost?.(error)) options.broken?.(error);
    else await client.query('ROLLBACK').catch((failed: unknown) => options.broken?.(failed));
    throw error;
  }
}

/** `inTransaction` on a client of the pool, released afterwards (destroyed when it broke). */
export async function pooledTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const breaks = (error: unknown): void => {
    broken = error instanceof Error ? error : new Error(String(error));
  };
  try {
    return await inTransaction(client, (c) => work(c as PoolClient), { ...options, broken: breaks });
  } catch (error) {
    if (options.isLost?.(error)) breaks(error);
    throw error;
  } finally {
    client.release(broken);
  }
}
