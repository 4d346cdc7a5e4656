import type { PoolConnection } from 'mysql2/promise';
import type { ShadowSlot, ShadowSpace, Snapshot, TableComparison } from '../../ports/event-store.js';
import { compareTables, type Column, type CompareDialect } from '../compare-tables.js';
import { inTransaction } from './tx.js';

const MARK_TABLE = 'es_shadow_mark';
const ident = (name: string): string => `\`${name.replace(/`/g, '``')}\``;

/** The copy's database: `es_shadow_<name>` or `es_verify_<name>`. */
export function copyDatabase(slot: ShadowSlot, name: string): string {
  return `es_${slot}_${name}`;
}

interface LiveSide {
  /** The target's database (the URL's). */
  database: string;
  display: string;
  isTransient(error: unknown): boolean;
  /** A connection of the target's pool for `work`, given back (or destroyed when it broke) after. */
  withConn<T>(work: (conn: PoolConnection) => Promise<T>): Promise<T>;
}

type Row = Record<string, unknown>;

/**
 * A copy of a read model in a database of its own on the same MariaDB/MySQL server. Inside its
 * transactions the connection's default database is the copy's, so the handlers' unqualified names
 * are its tables. The swap is one RENAME TABLE of every table (the live ones to a retired database,
 * the copy's to the live one), which the server does atomically; the handled ids follow in a
 * transaction of their own (RENAME commits implicitly), redone when a promote was killed between.
 */
export function mysqlShadowSpace(live: LiveSide, name: string, slot: ShadowSlot): ShadowSpace<PoolConnection> {
  const database = copyDatabase(slot, name);
  const retired = `es_retired_${name}`;
  const d = ident(database);
  const inCopy = async <T>(conn: PoolConnection, work: () => Promise<T>): Promise<T> => {
    await conn.query(`USE ${d}`);
    try {
      return await work();
    } finally {
      await conn.query(`USE ${ident(live.database)}`);
    }
  };
  const tablesOf = async (conn: PoolConnection, db: string): Promise<Set<string>> => {
    const [rows] = await conn.query('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?', [db]);
    return new Set((rows as { name: string }[]).map((r) => r.name));
  };
  return {
    display: `database ${database} of ${live.display}`,
    synchronous: false,
    inStore: false,
    isTransient: (error) => live.isTransient(error),
    transaction: (work) =>
      live.withConn(async (conn) => {
        // DDL commits on its own: the copy's database and mark exist before the transaction begins.
        await conn.query(`CREATE DATABASE IF NOT EXISTS ${d}`);
        await conn.query(
          `CREATE TABLE IF NOT EXISTS ${d}.${MARK_TABLE} (id VARCHAR(64) NOT NULL, version INT NOT NULL, position BIGINT NOT NULL, cursor_json TEXT)`,
        );
        return inCopy(conn, () => inTransaction(conn, work));
      }),
    record: async (conn, mark, previous) => {
      const [rows] = await conn.query(`SELECT id, position FROM ${d}.${MARK_TABLE} FOR UPDATE`);
      const row = (rows as { id: string; position: number | string }[])[0];
      if (previous === null ? row !== undefined : row?.id !== previous.id || Number(row?.position) !== previous.position) return false;
      await conn.query(`DELETE FROM ${d}.${MARK_TABLE}`);
      await conn.query(`INSERT INTO ${d}.${MARK_TABLE} (id, version, position, cursor_json) VALUES (?, ?, ?, ?)`, [
        mark.id,
        mark.version,
        mark.position,
        mark.cursor === undefined ? null : JSON.stringify(mark.cursor),
      ]);
      return true;
    },
    mark: () =>
      live.withConn(async (conn) => {
        if (!(await tablesOf(conn, database)).has(MARK_TABLE)) return null;
        const [rows] = await conn.query(`SELECT id, version, position, cursor_json FROM ${d}.${MARK_TABLE} LIMIT 1`);
        const row = (rows as { id: string; version: number; position: number | string; cursor_json: string | null }[])[0];
        if (!row) return null;
        return {
          id: row.id,
          version: row.version,
          position: Number(row.position),
          ...(row.cursor_json === null ? {} : { cursor: JSON.parse(row.cursor_json) as unknown }),
        };
      }),
    missing: (tables) =>
      live.withConn(async (conn) => {
        const held = await tablesOf(conn, database);
        return tables.filter((t) => !held.has(t));
      }),
    promote: async () => {
      throw new Error('promote is for a copy in the event store; a target swaps');
    },
    swap: (tables, after) =>
      live.withConn(async (conn) => {
        const inCopyNow = await tablesOf(conn, database);
        const moving = tables.filter((t) => inCopyNow.has(t));
        if (moving.length > 0) {
          const liveNow = await tablesOf(conn, live.database);
          await conn.query(`CREATE DATABASE IF NOT EXISTS ${ident(retired)}`);
          const renames = [
            ...moving.filter((t) => liveNow.has(t)).map((t) => `${ident(live.database)}.${ident(t)} TO ${ident(retired)}.${ident(t)}`),
            ...moving.map((t) => `${d}.${ident(t)} TO ${ident(live.database)}.${ident(t)}`),
          ];
          // One statement: the server renames every table at once, or none.
          await conn.query(`RENAME TABLE ${renames.join(', ')}`);
        }
        await conn.query(`DROP DATABASE IF EXISTS ${ident(retired)}`);
        await conn.query(`DROP DATABASE IF EXISTS ${d}`);
        await inTransaction(conn, after);
      }),
    keepAsShadow: () =>
      live.withConn(async (conn) => {
        const shadow = copyDatabase('shadow', name);
        await conn.query(`DROP DATABASE IF EXISTS ${ident(shadow)}`);
        await conn.query(`CREATE DATABASE ${ident(shadow)}`);
        const tables = [...(await tablesOf(conn, database))];
        if (tables.length > 0) await conn.query(`RENAME TABLE ${tables.map((t) => `${d}.${ident(t)} TO ${ident(shadow)}.${ident(t)}`).join(', ')}`);
        await conn.query(`DROP DATABASE IF EXISTS ${d}`);
      }),
    drop: () =>
      live.withConn(async (conn) => {
        await conn.query(`DROP DATABASE IF EXISTS ${d}`);
      }),
    snapshot: () => snapshotOf(live, database),
    close: async () => {},
  };
}

/** A connection held in one consistent-snapshot transaction for the comparison (InnoDB). */
async function snapshotOf(live: LiveSide, database: string): Promise<Snapshot> {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const conn = await new Promise<PoolConnection>((resolve, reject) => {
    live
      .withConn(async (c) => {
        await c.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
        resolve(c);
        await held;
        await c.query('ROLLBACK').catch(() => {});
      })
      .catch(reject);
  });
  return {
    compare: (table, limit) => compareTable(conn, live.database, database, table, limit),
    close: async () => release(),
  };
}

async function columnsOf(conn: PoolConnection, db: string, table: string): Promise<Column[]> {
  const [rows] = await conn.query(
    `SELECT c.column_name AS name, COALESCE(s.seq_in_index, 0) AS pk FROM information_schema.columns c
     LEFT JOIN information_schema.statistics s ON s.table_schema = c.table_schema AND s.table_name = c.table_name
       AND s.column_name = c.column_name AND s.index_name = 'PRIMARY'
     WHERE c.table_schema = ? AND c.table_name = ? ORDER BY c.ordinal_position`,
    [db, table],
  );
  return (rows as { name: string; pk: number | string }[]).map((r) => ({ name: r.name, pk: Number(r.pk) }));
}

async function compareTable(conn: PoolConnection, liveDb: string, copyDb: string, table: string, limit: number): Promise<TableComparison> {
  const dialect: CompareDialect = {
    quote: ident,
    same: (a, b, nullable) => `${a} ${nullable ? '<=>' : '='} ${b}`,
    differs: (a, b) => `NOT (${a} <=> ${b})`,
    rows: async (sql, params) => (await conn.query(sql, [...params]))[0] as Row[],
  };
  const sides = {
    live: `${ident(liveDb)}.${ident(table)}`,
    copy: `${ident(copyDb)}.${ident(table)}`,
    liveCols: await columnsOf(conn, liveDb, table),
    copyCols: await columnsOf(conn, copyDb, table),
  };
  return compareTables(dialect, table, sides, limit);
}
