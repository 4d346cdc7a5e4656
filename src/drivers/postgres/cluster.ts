import type { ClientBase } from 'pg';
import { inTransaction } from './tx.js';

/**
 * Transaction ids belong to one PostgreSQL cluster. The store orders events by `transaction_id`, so
 * a store restored into another cluster (pg_dump into a new server, a managed-database migration, a
 * staging copy) would carry ids ahead of the new server's: its new events would sort before the old
 * ones and every append to an old stream would look "older".
 *
 * The ids es stores are therefore *logical*: the server's own id plus an offset kept in the schema.
 * Three small SQL functions in the store's schema apply it (the column default and the reads use
 * them), so every connection of every process agrees on it. The cluster that wrote the offset is
 * recorded by its system identifier; a store found on another cluster is adopted: the offset grows
 * so that every transaction from now on sorts after everything stored. Checkpoints, stream order and
 * fences carry over; nothing is re-read or skipped. pg_upgrade keeps the counter, so the offset it
 * finds already suffices and is kept.
 */

/** The functions' bodies for an offset (a decimal string): plain calls when it is 0. */
function xactFunctions(schema: string, offset: string): string {
  const shifted = (call: string): string => (offset === '0' ? `SELECT ${call}` : `SELECT (${call}::text::numeric + ${offset})::text::xid8`);
  return `
CREATE OR REPLACE FUNCTION "${schema}".es_xact_id() RETURNS xid8 LANGUAGE sql VOLATILE AS $f$${shifted('pg_current_xact_id()')}$f$;
CREATE OR REPLACE FUNCTION "${schema}".es_xact_horizon() RETURNS xid8 LANGUAGE sql STABLE AS $f$${shifted('pg_snapshot_xmin(pg_current_snapshot())')}$f$;
CREATE OR REPLACE FUNCTION "${schema}".es_xact_next() RETURNS xid8 LANGUAGE sql STABLE AS $f$${shifted('pg_snapshot_xmax(pg_current_snapshot())')}$f$;
`;
}

/** The schema's functions at offset 0; part of a new store's DDL. The cluster is recorded at its first open. */
export function initialXactDdl(schema: string): string {
  return `${xactFunctions(schema, '0')}
INSERT INTO "${schema}".es_meta (key, value) VALUES ('xact_offset', '0') ON CONFLICT (key) DO NOTHING;
`;
}

/**
 * The identifier of the cluster this connection is on, or null where the role may not ask
 * (`pg_control_system()` is executable by everyone by default; a managed service may revoke it):
 * there a move is not detected, and the store works as it did before moves were handled.
 */
export async function systemIdentifier(client: ClientBase): Promise<string | null> {
  const allowed = await client.query<{ ok: boolean }>(`SELECT has_function_privilege('pg_catalog.pg_control_system()', 'execute') AS ok`);
  if (!allowed.rows[0]?.ok) return null;
  const { rows } = await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
  return rows[0]?.id ?? null;
}

interface Recorded {
  here: string | null;
  recorded: string | null;
}

async function recordedCluster(client: ClientBase, schema: string): Promise<Recorded> {
  const here = await systemIdentifier(client);
  const { rows } = await client.query<{ recorded: string | null }>(
    `SELECT (SELECT value FROM "${schema}".es_meta WHERE key = 'system_identifier') AS recorded`,
  );
  return { here, recorded: rows[0]?.recorded ?? null };
}

/**
 * The offset from which every later transaction sorts after all that is stored: after the largest id
 * of an event and of a cursor saved in a checkpoint (a cursor may sit at a reader's horizon, past the
 * last event), counted from the oldest transaction still in flight, which may write yet.
 */
async function neededOffset(client: ClientBase, schema: string): Promise<bigint> {
  const { rows } = await client.query<{ stored: string | null; cursors: string | null; xmin: string; offset: string }>(
    `SELECT (SELECT e.transaction_id::text FROM "${schema}".events e WHERE NOT e.system ORDER BY e.transaction_id DESC LIMIT 1) AS stored,
            (SELECT max(greatest(e.transaction_id::text::numeric,
                 CASE WHEN c.id #>> '{}' ~ '^[0-9]{1,20}$' THEN (c.id #>> '{}')::numeric END))::text FROM "${schema}".events e
               LEFT JOIN LATERAL jsonb_path_query(e.data::jsonb, 'strict $.**.transactionId') AS c(id) ON true
             WHERE e.system) AS cursors,
            pg_snapshot_xmin(pg_current_snapshot())::text AS xmin,
            (SELECT value FROM "${schema}".es_meta WHERE key = 'xact_offset') AS offset`,
  );
  const row = rows[0];
  const largest = [row?.stored, row?.cursors].reduce((max, id) => (id != null && BigInt(id) > max ? BigInt(id) : max), 0n);
  const current = BigInt(row?.offset ?? '0');
  const needed = largest + 1n - BigInt(row?.xmin ?? '0');
  return needed > current ? needed : current;
}

/**
 * Adopts a store found on a cluster other than the one recorded, inside the caller's transaction.
 * Writers of events wait meanwhile (a table lock), so none can slip an id in under the new offset.
 */
async function adoptInTransaction(client: ClientBase, schema: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`es-schema:${schema}`]);
  const { here, recorded } = await recordedCluster(client, schema);
  if (here === null || here === recorded) return;
  await client.query(`LOCK TABLE "${schema}".events IN SHARE ROW EXCLUSIVE MODE`);
  const offset = (await neededOffset(client, schema)).toString();
  await client.query(xactFunctions(schema, offset));
  await client.query(
    `INSERT INTO "${schema}".es_meta (key, value) VALUES ('xact_offset', $1), ('system_identifier', $2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    [offset, here],
  );
}

/**
 * Whether the store's recorded cluster is this connection's; when not, adopts it (a store of before
 * version 3, or new, has none recorded yet: the same steps record it, keeping offset 0 on the cluster
 * that wrote it). Returns the cluster, null when it cannot be known.
 */
export async function adoptIfMoved(client: ClientBase, schema: string, options: { inTransaction?: boolean } = {}): Promise<string | null> {
  const { here, recorded } = await recordedCluster(client, schema);
  if (here === null || here === recorded) return here;
  if (options.inTransaction) {
    await adoptInTransaction(client, schema);
    return here;
  }
  await inTransaction(client, () => adoptInTransaction(client, schema));
  // A restore brings no planner statistics; reads would go by a poor plan until autovacuum came.
  if (recorded !== null) await client.query(`ANALYZE "${schema}".events`).catch(() => {});
  return here;
}

/** A store's watch on the cluster it is on: `known` is the one found when it was opened. */
export interface ClusterCheck {
  known: string | null;
  /** For the pool: checks each new connection before it is used. */
  verify(client: ClientBase, done: (error?: Error) => void): void;
  /** For a caller's own connection (an append in its transaction): checked once per connection. */
  checkCaller(client: ClientBase): Promise<void>;
}

/**
 * A long-running process whose server was replaced under the same address (a failover to a restored
 * copy) adopts the store there before it reads or writes. A connection stays on its cluster, so each
 * is asked once; one that adopted inside a caller's transaction is asked again (a rollback undoes it).
 */
export function clusterCheck(schema: string): ClusterCheck {
  const onKnownCluster = new WeakSet<ClientBase>();
  const check: ClusterCheck = {
    known: null,
    verify(client, done) {
      if (check.known === null) return done();
      systemIdentifier(client)
        .then(async (here) => {
          if (here !== null && here !== check.known) check.known = await adoptIfMoved(client, schema);
          done();
        })
        .catch((error: unknown) => done(error instanceof Error ? error : new Error(String(error))));
    },
    async checkCaller(client) {
      if (check.known === null || onKnownCluster.has(client)) return;
      const here = await systemIdentifier(client);
      if (here === null || here === check.known) onKnownCluster.add(client);
      else await adoptIfMoved(client, schema, { inTransaction: true });
    },
  };
  return check;
}
