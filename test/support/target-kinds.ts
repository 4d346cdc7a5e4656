/**
 * The three kinds of read-model target, for tests that run the same scenario against each: a fresh
 * target (a SQLite file, a PostgreSQL schema, a MariaDB database), projection sources in its SQL,
 * and plain queries to look at what the projections wrote.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { freshMysqlDatabase, mysqlServerUrl } from './mysql.js';
import { freshPgStore } from './pg.js';

export type KindName = 'sqlite' | 'postgres' | 'mariadb';

export interface FreshTarget {
  url: string;
  /** Rows of a query on the target (no parameters). */
  query(sql: string): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

export interface TargetKind {
  name: KindName;
  available: boolean;
  fresh(dir: string): Promise<FreshTarget>;
  /** Source of a projection file: `strict` (a primary key per event id) or `tally` (counts applications). */
  projection(name: 'strict' | 'tally', fileTarget?: string): string;
}

const targetLine = (t?: string) => (t ? `target: ${JSON.stringify(t)},` : '');

const sqliteKind: TargetKind = {
  name: 'sqlite',
  available: true,
  async fresh(dir) {
    const path = join(dir, 'read-model.db');
    return {
      url: `sqlite:${path}`,
      async query(sql) {
        const db = new Database(path);
        try {
          const statement = db.prepare(sql);
          if (!statement.reader) return (statement.run(), []);
          return statement.all() as Record<string, unknown>[];
        } finally {
          db.close();
        }
      },
      drop: async () => {},
    };
  },
  projection(name, fileTarget) {
    return name === 'strict'
      ? `export default { name: 'strict', ${targetLine(fileTarget)} events: ['Added'],
  setup(db) { db.exec('CREATE TABLE IF NOT EXISTS strict_applied (event_id TEXT PRIMARY KEY, position INTEGER NOT NULL, n INTEGER NOT NULL)'); },
  reset(db) { db.exec('DELETE FROM strict_applied'); },
  handlers: { Added(e, db) { db.prepare('INSERT INTO strict_applied VALUES (?, ?, ?)').run(e.id, e.position, e.data.n); } } };\n`
      : `export default { name: 'tally', ${targetLine(fileTarget)} events: ['Added', 'Noted'],
  setup(db) { db.exec('CREATE TABLE IF NOT EXISTS tally (event_id TEXT PRIMARY KEY, times INTEGER NOT NULL)'); },
  reset(db) { db.exec('DELETE FROM tally'); },
  handlers: { '*'(e, db) { db.prepare('INSERT INTO tally VALUES (?, 1) ON CONFLICT (event_id) DO UPDATE SET times = times + 1').run(e.id); } } };\n`;
  },
};

const postgresKind = (serverUrl: () => string): TargetKind => ({
  name: 'postgres',
  available: true,
  async fresh() {
    const { schema, drop } = freshPgStore();
    const url = new URL(serverUrl());
    url.searchParams.set('schema', schema);
    return {
      url: url.toString(),
      async query(sql) {
        const client = new pg.Client({ connectionString: serverUrl() });
        await client.connect();
        try {
          await client.query(`SET search_path TO "${schema}"`);
          return (await client.query(sql)).rows as Record<string, unknown>[];
        } finally {
          await client.end();
        }
      },
      drop,
    };
  },
  projection(name, fileTarget) {
    return name === 'strict'
      ? `export default { name: 'strict', ${targetLine(fileTarget)} events: ['Added'],
  async setup(db) { await db.query('CREATE TABLE IF NOT EXISTS strict_applied (event_id text PRIMARY KEY, position bigint NOT NULL, n int NOT NULL)'); },
  async reset(db) { await db.query('DELETE FROM strict_applied'); },
  handlers: { async Added(e, db) { await db.query('INSERT INTO strict_applied VALUES ($1, $2, $3)', [e.id, e.position, e.data.n]); } } };\n`
      : `export default { name: 'tally', ${targetLine(fileTarget)} events: ['Added', 'Noted'],
  async setup(db) { await db.query('CREATE TABLE IF NOT EXISTS tally (event_id text PRIMARY KEY, times int NOT NULL)'); },
  async reset(db) { await db.query('DELETE FROM tally'); },
  handlers: { async '*'(e, db) { await db.query('INSERT INTO tally VALUES ($1, 1) ON CONFLICT (event_id) DO UPDATE SET times = tally.times + 1', [e.id]); } } };\n`;
  },
});

const mariadbKind: TargetKind = {
  name: 'mariadb',
  available: mysqlServerUrl !== undefined,
  async fresh() {
    const { url, drop } = await freshMysqlDatabase();
    return {
      url,
      async query(sql) {
        const conn = await createConnection(url);
        try {
          return (await conn.query(sql))[0] as Record<string, unknown>[];
        } finally {
          await conn.end();
        }
      },
      drop,
    };
  },
  projection(name, fileTarget) {
    return name === 'strict'
      ? `export default { name: 'strict', ${targetLine(fileTarget)} events: ['Added'],
  async setup(db) { await db.query('CREATE TABLE IF NOT EXISTS strict_applied (event_id VARCHAR(64) PRIMARY KEY, position BIGINT NOT NULL, n INT NOT NULL)'); },
  async reset(db) { await db.query('DELETE FROM strict_applied'); },
  handlers: { async Added(e, db) { await db.query('INSERT INTO strict_applied VALUES (?, ?, ?)', [e.id, e.position, e.data.n]); } } };\n`
      : `export default { name: 'tally', ${targetLine(fileTarget)} events: ['Added', 'Noted'],
  async setup(db) { await db.query('CREATE TABLE IF NOT EXISTS tally (event_id VARCHAR(64) PRIMARY KEY, times INT NOT NULL)'); },
  async reset(db) { await db.query('DELETE FROM tally'); },
  handlers: { async '*'(e, db) { await db.query('INSERT INTO tally VALUES (?, 1) ON DUPLICATE KEY UPDATE times = times + 1', [e.id]); } } };\n`;
  },
};

export function targetKinds(pgServerUrl: () => string): TargetKind[] {
  return [sqliteKind, postgresKind(pgServerUrl), mariadbKind];
}
