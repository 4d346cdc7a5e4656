import { createRequire } from 'node:module';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { default as SqliteConstructor, Database } from 'better-sqlite3';
import { environment } from '../../core/errors.js';
import { isThenable } from '../../core/maybe.js';
import type { AppendResult, CommitUnit, ShadowSlot, ShadowSpace, Snapshot, TableComparison } from '../../ports/event-store.js';
import { compareTables, type Column, type CompareDialect } from '../compare-tables.js';
import { isBusy } from './errors.js';
import { withStatementCache } from './statement-cache.js';
import { SYNC_TARGET } from './target.js';

const BUSY_TIMEOUT_MS = 30_000;
const MARK_TABLE = 'es_shadow_mark';
/** The schema name the copy is attached under, on the live database's connection. */
const ATTACHED = 'es_copy';

/** The copy's file, beside the live one: `events.db` → `events.shadow-<name>.db`. */
export function copyFile(livePath: string, slot: ShadowSlot, name: string): string {
  const ext = extname(livePath);
  const base = basename(livePath, ext);
  return join(dirname(livePath), `${base}.${slot}-${name}${ext || '.db'}`);
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

function removeFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}

interface LiveSide {
  /** The live database's file. */
  path: string;
  /** A connection to it (the store's own, for a store): the copy is attached to it to be copied in. */
  db: Database;
  /** The event store's commit, with `apply` run in the same transaction (a store); none for a target. */
  commit?: (unit: CommitUnit<Database>) => Promise<AppendResult>;
}

/**
 * A copy of a read model kept in a SQLite file beside the live one. The copy's file is its own
 * database, so the handlers' unqualified names are its tables; its position is recorded in it, in
 * the same transaction as its writes. Promoting copies its tables (with their indexes and triggers)
 * into the live file in one transaction, which commits the live checkpoint too: readers (WAL) see the
 * old tables until then, and writers wait for the copy, which takes time in proportion to its rows.
 */
export function sqliteShadowSpace(live: LiveSide, name: string, slot: ShadowSlot): ShadowSpace<Database> {
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof SqliteConstructor;
  const file = copyFile(live.path, slot, name);
  let db: Database | null = null;
  const open = (): Database => {
    if (db?.open) return db;
    try {
      const opened = new Sqlite(file, { timeout: BUSY_TIMEOUT_MS });
      opened.pragma('journal_mode = WAL');
      // No fsync per batch (as the store's own batches): a power loss may take the copy's last
      // commits, its mark with them, so the copy stays whole and resumes from its mark (its stream
      // in the store is brought back to it). What a promote copies in commits durably in the store.
      opened.pragma('synchronous = NORMAL');
      opened.exec(`CREATE TABLE IF NOT EXISTS ${MARK_TABLE} (id TEXT NOT NULL, version INTEGER NOT NULL, position INTEGER NOT NULL, cursor TEXT)`);
      // As the store's connection: a handler's db.prepare(sql) per event compiles once.
      db = withStatementCache(opened);
      return db;
    } catch (error) {
      throw environment(`${file}: cannot open the ${slot} copy of ${name} (${(error as Error).message})`, error);
    }
  };
  const close = (): void => {
    if (db?.open) db.close();
    db = null;
  };
  const inTransaction = <T>(work: (conn: Database) => T | Promise<T>, conn: Database): T => {
    const result = work(conn);
    if (isThenable(result)) {
      Promise.resolve(result).catch(() => {});
      throw new Error(`the read model's code ${SYNC_TARGET}`);
    }
    return result as T;
  };
  const tablesIn = (conn: Database, schema: string): Set<string> =>
    new Set(
      conn
        .prepare(`SELECT lower(name) FROM ${schema}.sqlite_master WHERE type = 'table'`)
        .pluck()
        .all()
        .map((n) => String(n)),
    );

  /** Attaches the copy to the live connection for `work`, then removes the copy. */
  const copying = async <T>(work: () => Promise<T>): Promise<T> => {
    // Everything written to the copy is in its main file before another connection reads it.
    open().pragma('wal_checkpoint(TRUNCATE)');
    live.db.prepare(`ATTACH DATABASE ? AS ${ATTACHED}`).run(file);
    let result: T;
    try {
      result = await work();
    } finally {
      live.db.exec(`DETACH DATABASE ${ATTACHED}`);
    }
    close();
    removeFiles(file);
    return result;
  };

  return {
    display: file,
    synchronous: true,
    inStore: live.commit !== undefined,
    isTransient: isBusy,
    transaction: async (work) => {
      const conn = open();
      return conn.transaction(() => inTransaction(work, conn)).immediate();
    },
    record: (conn, mark, previous) => {
      const row = conn.prepare(`SELECT id, position FROM ${MARK_TABLE}`).get() as { id: string; position: number } | undefined;
      if (previous === null ? row !== undefined : row?.id !== previous.id || row?.position !== previous.position) return false;
      conn.prepare(`DELETE FROM ${MARK_TABLE}`).run();
      conn
        .prepare(`INSERT INTO ${MARK_TABLE} (id, version, position, cursor) VALUES (?, ?, ?, ?)`)
        .run(mark.id, mark.version, mark.position, mark.cursor === undefined ? null : JSON.stringify(mark.cursor));
      return true;
    },
    mark: async () => {
      if (!existsSync(file)) return null;
      const row = open().prepare(`SELECT id, version, position, cursor FROM ${MARK_TABLE}`).get() as
        { id: string; version: number; position: number; cursor: string | null } | undefined;
      if (!row) return null;
      return { id: row.id, version: row.version, position: row.position, ...(row.cursor === null ? {} : { cursor: JSON.parse(row.cursor) as unknown }) };
    },
    missing: async (tables) => {
      const held = existsSync(file) ? tablesIn(open(), 'main') : new Set<string>();
      return tables.filter((t) => !held.has(t.toLowerCase()));
    },
    promote: async (tables, unit) => {
      const commit = live.commit;
      if (!commit) throw new Error('promote is for a copy in the event store; a target swaps');
      return copying(() => commit({ ...unit, apply: (conn: Database) => copyIn(conn, tables) }));
    },
    swap: async (tables, after) => {
      // Done before (the copy removed after its swap), or to do: the copy's file still holds its mark.
      const swapped = !existsSync(file) || open().prepare(`SELECT 1 FROM ${MARK_TABLE}`).get() === undefined;
      if (swapped) {
        removeFiles(file);
        live.db.transaction(() => inTransaction(after, live.db)).immediate();
        return;
      }
      await copying(async () =>
        live.db
          .transaction(() => {
            copyIn(live.db, tables);
            inTransaction(after, live.db);
          })
          .immediate(),
      );
    },
    keepAsShadow: async () => {
      close();
      const target = copyFile(live.path, 'shadow', name);
      removeFiles(target);
      const probe = new Sqlite(file);
      probe.pragma('wal_checkpoint(TRUNCATE)');
      probe.close();
      renameSync(file, target);
      removeFiles(file);
    },
    drop: async () => {
      close();
      removeFiles(file);
    },
    snapshot: async () => snapshotOf(Sqlite, live.path, file),
    close: async () => close(),
  };
}

/**
 * In the live database's transaction, with the copy attached: each table dropped and made again from
 * the copy's definition, its rows copied, then its indexes and triggers (faster after the rows), and
 * its AUTOINCREMENT counter.
 */
function copyIn(conn: Database, tables: readonly string[]): void {
  const objects = conn.prepare<[string], { type: string; name: string; sql: string }>(
    `SELECT type, name, sql FROM ${ATTACHED}.sqlite_master WHERE lower(tbl_name) = lower(?) AND sql IS NOT NULL ORDER BY type = 'table' DESC, rowid`,
  );
  const hasSequence = conn.prepare(`SELECT 1 FROM ${ATTACHED}.sqlite_master WHERE name = 'sqlite_sequence'`).get() !== undefined;
  for (const table of tables) {
    const [definition, ...rest] = objects.all(table);
    if (!definition || definition.type !== 'table') throw new Error(`the copy has no table ${table}`);
    conn.exec(`DROP TABLE IF EXISTS main.${quote(definition.name)}`);
    // The definition as SQLite keeps it names no schema: it creates the table in main.
    conn.exec(definition.sql);
    conn.exec(`INSERT INTO main.${quote(definition.name)} SELECT * FROM ${ATTACHED}.${quote(definition.name)}`);
    for (const object of rest) conn.exec(object.sql);
    if (hasSequence) {
      const seq = conn.prepare(`SELECT seq FROM ${ATTACHED}.sqlite_sequence WHERE name = ?`).pluck().get(definition.name);
      if (seq !== undefined) {
        conn.prepare('DELETE FROM main.sqlite_sequence WHERE name = ?').run(definition.name);
        conn.prepare('INSERT INTO main.sqlite_sequence (name, seq) VALUES (?, ?)').run(definition.name, seq);
      }
    }
  }
}

type Row = Record<string, unknown>;

/** Values as JSON shows them: blobs as hex. */
function plain(row: Row | undefined): Row | null {
  if (!row) return null;
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) out[k] = Buffer.isBuffer(v) ? `x'${v.toString('hex')}'` : typeof v === 'bigint' ? v.toString() : v;
  return out;
}

/**
 * A read connection to the live file with the copy attached, in one read transaction: both sides
 * are then fixed (WAL snapshots) whatever the live runner commits meanwhile.
 */
function snapshotOf(Sqlite: typeof SqliteConstructor, livePath: string, file: string): Snapshot {
  const conn = new Sqlite(livePath, { readonly: true, timeout: BUSY_TIMEOUT_MS });
  conn.prepare(`ATTACH DATABASE ? AS ${ATTACHED}`).run(file);
  conn.exec('BEGIN');
  // The first read starts the snapshot of each file.
  conn.prepare('SELECT count(*) FROM main.sqlite_master').get();
  conn.prepare(`SELECT count(*) FROM ${ATTACHED}.sqlite_master`).get();
  return {
    compare: async (table, limit) => compareTable(conn, table, limit),
    close: async () => {
      if (conn.open) conn.close();
    },
  };
}

function columnsOf(conn: Database, schema: string, table: string): Column[] {
  return conn.prepare(`PRAGMA ${schema}.table_info(${quote(table)})`).all() as Column[];
}

function compareTable(conn: Database, table: string, limit: number): Promise<TableComparison> {
  const dialect: CompareDialect = {
    quote,
    same: (a, b, nullable) => `${a} ${nullable ? 'IS' : '='} ${b}`,
    differs: (a, b) => `${a} IS NOT ${b}`,
    rows: async (sql, params) => (conn.prepare(sql).all(...params) as Row[]).map((row) => plain(row) ?? {}),
  };
  const sides = {
    live: `main.${quote(table)}`,
    copy: `${ATTACHED}.${quote(table)}`,
    liveCols: columnsOf(conn, 'main', table),
    copyCols: columnsOf(conn, ATTACHED, table),
  };
  return compareTables(dialect, table, sides, limit);
}
