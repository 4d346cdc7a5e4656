import type { ClientBase, Pool, PoolClient } from 'pg';
import type { AppendResult, CommitUnit, ShadowSlot, ShadowSpace, Snapshot, TableComparison } from '../../ports/event-store.js';
import { compareTables, type Column, type CompareDialect } from '../compare-tables.js';
import { pooledTransaction } from './tx.js';

const MARK_TABLE = 'es_shadow_mark';
/** How long the swap waits for readers of the live tables before it gives up and is tried again. */
const SWAP_LOCK_TIMEOUT_MS = 5000;

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The copy's schema: `es_shadow_<name>` or `es_verify_<name>`. */
export function copySchema(slot: ShadowSlot, name: string): string {
  return `es_${slot}_${name}`;
}

interface LiveSide {
  pool: Pool;
  /** The event store's commit, with `apply` run in the same transaction (a store); none for a target. */
  commit?: (unit: CommitUnit<ClientBase>) => Promise<AppendResult>;
  isTransient(error: unknown): boolean;
  display: string;
}

/**
 * In the caller's transaction: each live table dropped and the copy's moved into its schema (where
 * the handlers' unqualified name finds it; a table the live read model lacks goes to the first schema
 * of the path), then the copy's schema with whatever else it holds.
 */
async function moveIn(client: ClientBase, schema: string, tables: readonly string[]): Promise<void> {
  const q = ident(schema);
  await client.query(`SELECT set_config('lock_timeout', $1, true)`, [String(SWAP_LOCK_TIMEOUT_MS)]);
  for (const table of tables) {
    const t = table.toLowerCase();
    const { rows } = await client.query<{ schema: string | null; current: string }>(
      `SELECT (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)) AS schema,
              current_schema() AS current`,
      [ident(t)],
    );
    const target = rows[0]?.schema ?? rows[0]?.current ?? 'public';
    if (rows[0]?.schema) await client.query(`DROP TABLE ${ident(target)}.${ident(t)}`);
    await client.query(`ALTER TABLE ${q}.${ident(t)} SET SCHEMA ${ident(target)}`);
  }
  await client.query(`DROP SCHEMA ${q} CASCADE`);
}

/**
 * A copy of a read model in a schema of its own in the same PostgreSQL database. Inside its
 * transactions the copy's schema comes first in `search_path`, so the handlers' unqualified names
 * create and write the copy's tables (and still read any other table as before). Promoting drops
 * the live tables and moves the copy's into their schema (indexes, constraints and owned sequences
 * move with them) in the transaction that commits the live checkpoint: a catalogue change, quick
 * whatever the size, though it waits for readers of the live tables that are under way.
 */
export function pgShadowSpace(live: LiveSide, name: string, slot: ShadowSlot): ShadowSpace<ClientBase> {
  const schema = copySchema(slot, name);
  const q = ident(schema);
  let made = false;
  const ensure = async (client: ClientBase): Promise<void> => {
    if (made) return;
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${q}.${MARK_TABLE} (id text NOT NULL, version integer NOT NULL, position bigint NOT NULL, cursor jsonb)`);
    made = true;
  };
  const exists = async (): Promise<boolean> => {
    const { rows } = await live.pool.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [`${q}.${MARK_TABLE}`]);
    return rows[0]?.present === true;
  };
  const enter = (client: ClientBase) => client.query(`SELECT set_config('search_path', $1 || ', ' || current_setting('search_path'), true)`, [q]);

  return {
    display: `schema ${schema} of ${live.display}`,
    synchronous: false,
    inStore: live.commit !== undefined,
    isTransient: (error) => live.isTransient(error),
    transaction: (work) =>
      pooledTransaction(live.pool, async (client) => {
        await ensure(client);
        await enter(client);
        return work(client);
      }).catch((error: unknown) => {
        // The schema was dropped by another process since: made again on the next try.
        made = false;
        throw error;
      }),
    record: async (client, mark, previous) => {
      // One statement: moved from where it stood (or made where there was none), else no row.
      const cursor = mark.cursor === undefined ? null : JSON.stringify(mark.cursor);
      const values = [mark.id, mark.version, mark.position, cursor];
      const { rowCount } =
        previous === null
          ? await client.query(
              `INSERT INTO ${q}.${MARK_TABLE} (id, version, position, cursor) SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM ${q}.${MARK_TABLE})`,
              values,
            )
          : await client.query(`UPDATE ${q}.${MARK_TABLE} SET id = $1, version = $2, position = $3, cursor = $4 WHERE id = $5 AND position = $6`, [
              ...values,
              previous.id,
              previous.position,
            ]);
      return rowCount === 1;
    },
    mark: async () => {
      if (!(await exists())) return null;
      const { rows } = await live.pool.query<{ id: string; version: number; position: string; cursor: unknown }>(
        `SELECT id, version, position::text AS position, cursor FROM ${q}.${MARK_TABLE} LIMIT 1`,
      );
      const row = rows[0];
      if (!row) return null;
      return { id: row.id, version: row.version, position: Number(row.position), ...(row.cursor === null ? {} : { cursor: row.cursor }) };
    },
    missing: async (tables) => {
      const { rows } = await live.pool.query<{ name: string }>(`SELECT lower(table_name) AS name FROM information_schema.tables WHERE table_schema = $1`, [
        schema,
      ]);
      const held = new Set(rows.map((r) => r.name));
      return tables.filter((t) => !held.has(t.toLowerCase()));
    },
    promote: (tables, unit) => {
      const commit = live.commit;
      if (!commit) throw new Error('promote is for a copy in the event store; a target swaps');
      made = false;
      return commit({ ...unit, apply: (client: ClientBase) => moveIn(client, schema, tables) });
    },
    swap: async (tables, after) => {
      made = false;
      await pooledTransaction(live.pool, async (client) => {
        // Done before when the copy's schema is gone (it goes in the swap's transaction).
        const { rows } = await client.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [`${q}.${MARK_TABLE}`]);
        if (rows[0]?.present === true) await moveIn(client, schema, tables);
        await after(client);
      });
    },
    keepAsShadow: async () => {
      const shadow = copySchema('shadow', name);
      await pooledTransaction(live.pool, async (client) => {
        await client.query(`DROP SCHEMA IF EXISTS ${ident(shadow)} CASCADE`);
        await client.query(`ALTER SCHEMA ${q} RENAME TO ${ident(shadow)}`);
      });
      made = false;
    },
    drop: async () => {
      made = false;
      // Bounded: a reader holding one of its tables (an open snapshot) fails the drop, never hangs it.
      await pooledTransaction(live.pool, async (client) => {
        await client.query(`SELECT set_config('lock_timeout', $1, true)`, [String(SWAP_LOCK_TIMEOUT_MS)]);
        await client.query(`DROP SCHEMA IF EXISTS ${q} CASCADE`);
      });
    },
    snapshot: () => snapshotOf(live.pool, schema),
    close: async () => {},
  };
}

type Row = Record<string, unknown>;

/** One REPEATABLE READ transaction: both sides as they were when its first query ran. */
async function snapshotOf(pool: Pool, schema: string): Promise<Snapshot> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query('SELECT 1');
  } catch (error) {
    client.release(error as Error);
    throw error;
  }
  return {
    compare: (table, limit) => compareTable(client, schema, table, limit),
    close: async () => {
      await client.query('ROLLBACK').catch(() => {});
      client.release();
    },
  };
}

async function columnsOf(client: PoolClient, relation: string | null): Promise<Column[]> {
  if (relation === null) return [];
  const { rows } = await client.query<{ name: string; pk: number | null }>(
    `SELECT a.attname AS name,
            (SELECT 1 + array_position(i.indkey::int2[], a.attnum) FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary) AS pk
     FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [relation],
  );
  return rows.map((r) => ({ name: r.name, pk: r.pk ?? 0 }));
}

/** `?` marks as node-postgres's `$n`. */
const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

async function compareTable(client: PoolClient, schema: string, table: string, limit: number): Promise<TableComparison> {
  const t = table.toLowerCase();
  const { rows: found } = await client.query<{ live: string | null; copy: string | null }>(
    `SELECT (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = to_regclass($1)) AS live,
            (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = to_regclass($2)) AS copy`,
    [ident(t), `${ident(schema)}.${ident(t)}`],
  );
  const live = found[0]?.live ?? null;
  const copy = found[0]?.copy ?? null;
  const dialect: CompareDialect = {
    quote: ident,
    same: (a, b, nullable) => `${a} ${nullable ? 'IS NOT DISTINCT FROM' : '='} ${b}`,
    differs: (a, b) => `${a} IS DISTINCT FROM ${b}`,
    rows: async (sql, params) => (await client.query<Row>(numbered(sql), [...params])).rows,
  };
  const sides = { live: live ?? '', copy: copy ?? '', liveCols: await columnsOf(client, live), copyCols: await columnsOf(client, copy) };
  return compareTables(dialect, table, sides, limit);
}
