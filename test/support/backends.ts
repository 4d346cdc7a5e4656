/**
 * The one registry of what the tests run against: event stores (`storeKinds`), read-model targets
 * (`targetKinds`) and brokers (`brokerKinds`). A suite written once runs per backend:
 *
 *   describe.each(storeKinds())('… on %s', (kind) => { … });
 *   describeEach(targetKinds())('… on %s', (kind) => { … });
 *
 * (`%s` in a title is the backend's label.)
 *
 * A backend whose server was not given (MariaDB, the brokers) is never skipped in silence: the first
 * suite that wants it in a test file says on stderr that its tests did not run and why, and each of
 * its suites shows as skipped with the reason in its name. PostgreSQL is always there: the
 * machine's server (ES_TEST_PG_URL) or the embedded one pg-global-setup.ts starts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import amqp, { type ChannelModel } from 'amqplib';
import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { describe } from 'vitest';
import { PostgresEventStore } from '../../src/drivers/postgres/store.js';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';
import type { EventStore } from '../../src/ports/event-store.js';
import { freshPgStore, pgServerUrl, untilVisible } from './pg.js';

// ---------------------------------------------------------------------------------------------
// Availability

/** What every kind of backend says about itself. */
export interface Backend {
  /** Short and lower-case: `sqlite`, `postgres`, `mariadb`, `nats`, `amqp`. */
  name: string;
  /** As a person names it: `SQLite`, `PostgreSQL`, `MariaDB`, `NATS JetStream`, `RabbitMQ`. */
  label: string;
  /** False when its server was not given: its suites are skipped, saying why. */
  available: boolean;
  /** Why it is not available. */
  why?: string;
  /** Its label: what `%s` shows in a title. */
  toString(): string;
}

/** The backend, shown in titles (`%s`) by its label. */
function named<K extends Omit<Backend, 'toString'>>(kind: K): K & Backend {
  return Object.assign(kind, { toString: () => kind.label });
}

const reported = new Set<string>();

/** Says once (per test file) on stderr that a backend's tests did not run, and why. */
export function reportNotRun(label: string, why: string, suite?: string): void {
  if (reported.has(label)) return;
  reported.add(label);
  process.stderr.write(`${label} tests did not run${suite ? ` (${suite})` : ''}: ${why}\n`);
}

/**
 * `describe.each` over backends of which some may be absent: the available ones run; each absent
 * one is reported (see reportNotRun) and its suite is defined as skipped, the reason in its name.
 * `%s` in the title is the backend's label.
 */
export function describeEach<K extends Backend>(kinds: readonly K[]) {
  return (title: string, body: (kind: K) => void): void => {
    const ready = kinds.filter((k) => k.available);
    if (ready.length > 0) describe.each(ready)(title, body);
    for (const kind of kinds.filter((k) => !k.available)) {
      const name = title.replace('%s', kind.label);
      reportNotRun(kind.label, kind.why ?? 'not available', name);
      describe.skip(`${name} (did not run: ${kind.why})`, () => body(kind));
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Event stores

/**
 * SQL on a store's read model that reads the same on every store: `?` parameters, tables named
 * through `table` (schema-qualified on PostgreSQL, whose read model is the store's pool). What runs
 * in a handler's transaction (`exec`, `run`) is synchronous on SQLite, as handlers there must be.
 */
export interface ReadModelSql {
  table(name: string): string;
  /** Statements without parameters, several separated by `;` (DDL). */
  exec(db: unknown, sql: string): void | Promise<void>;
  /** One statement with `?` parameters. */
  run(db: unknown, sql: string, params?: readonly unknown[]): void | Promise<void>;
  /** Rows of a query on the store's read model, outside any batch. */
  rows<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/**
 * `next` after `result`: at once when it is not a Promise (SQLite, where setup, reset and handlers
 * must stay synchronous), after it when it is (PostgreSQL).
 */
export function andThen<T>(result: void | Promise<void>, next: () => T): T | Promise<T> {
  return result instanceof Promise ? result.then(next) : next();
}

/** Where a store lives: opened (again, for a restart) with `open`, removed with `drop`. */
export interface StorePlace {
  url: string;
  open(options?: { create?: boolean }): Promise<EventStore<any>>;
  drop(): Promise<void>;
}

export interface OpenedStore {
  store: EventStore<any>;
  url: string;
  /** Closes the store and removes it. */
  cleanup(): Promise<void>;
}

export interface StoreKind extends Backend {
  name: 'sqlite' | 'postgres';
  /** Handlers, setup and reset must be synchronous on it (better-sqlite3). */
  synchronous: boolean;
  /** A new, empty place for a store. */
  place(): StorePlace;
  /** A fresh, empty store. */
  open(): Promise<OpenedStore>;
  /** SQL on the read model of a store of this kind. */
  sql(store: EventStore<any>): ReadModelSql;
  /**
   * Waits until every event appended to the store is visible to a projection. On PostgreSQL reads
   * stop below the oldest transaction in flight anywhere on the server (other test files hold
   * some open); see untilVisible. At once on SQLite.
   */
  settle(store: EventStore<any>): Promise<void>;
}

interface SqliteDb {
  exec(sql: string): unknown;
  prepare(sql: string): { run(...params: unknown[]): unknown; all(...params: unknown[]): unknown[] };
}
interface PgDb {
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** `?` placeholders as PostgreSQL's `$1`, `$2`, … */
const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

function place(path: () => string, drop: () => void): StorePlace {
  const file = path();
  return {
    url: `sqlite:${file}`,
    open: async (options = { create: true }) => new SqliteEventStore(file, options) as EventStore<any>,
    drop: async () => drop(),
  };
}

const sqliteKind: StoreKind = named({
  name: 'sqlite',
  label: 'SQLite',
  available: true,
  synchronous: true,
  place() {
    const dir = mkdtempSync(join(tmpdir(), 'es-test-store-'));
    return place(
      () => join(dir, 'events.db'),
      () => rmSync(dir, { recursive: true, force: true }),
    );
  },
  async open() {
    const where = this.place();
    const store = await where.open();
    return {
      store,
      url: where.url,
      cleanup: async () => {
        await store.close();
        await where.drop();
      },
    };
  },
  sql(store) {
    const model = store.readModel as SqliteDb;
    return {
      table: (name) => name,
      exec: (db, sql) => void (db as SqliteDb).exec(sql),
      run: (db, sql, params = []) => void (db as SqliteDb).prepare(sql).run(...params),
      rows: async <T>(sql: string, params: readonly unknown[] = []) => model.prepare(sql).all(...params) as T[],
    };
  },
  settle: async () => {},
});

const postgresKind: StoreKind = named({
  name: 'postgres',
  label: 'PostgreSQL',
  available: true,
  synchronous: false,
  place() {
    const fresh = freshPgStore();
    return {
      url: fresh.url,
      open: async (options = { create: true }) => (await PostgresEventStore.open(fresh.url, options)) as unknown as EventStore<any>,
      drop: fresh.drop,
    };
  },
  async open() {
    const where = this.place();
    const store = await where.open();
    return {
      store,
      url: where.url,
      cleanup: async () => {
        await store.close();
        await where.drop();
      },
    };
  },
  sql(store) {
    const schema = (store as unknown as PostgresEventStore).schema;
    const model = store.readModel as PgDb;
    return {
      table: (name) => `"${schema}".${name}`,
      exec: async (db, sql) => void (await (db as PgDb).query(sql)),
      run: async (db, sql, params = []) => void (await (db as PgDb).query(numbered(sql), [...params])),
      rows: async <T>(sql: string, params: readonly unknown[] = []) => (await model.query(numbered(sql), [...params])).rows as T[],
    };
  },
  // Patient: a test elsewhere on the server may hold a transaction open for a minute (a frozen link).
  settle: (store) => untilVisible(store.readModel as PgDb as never, (store as unknown as PostgresEventStore).schema, 120_000),
});

/** Every kind of event store, each always available. */
export function storeKinds(): StoreKind[] {
  return [sqliteKind, postgresKind];
}

// ---------------------------------------------------------------------------------------------
// Read-model targets

/** The MariaDB/MySQL server for tests: `.ci/run` sets it when 127.0.0.1:3306 answers. */
export const mysqlServerUrl = process.env.ES_TEST_MYSQL_URL || undefined;
const MYSQL_WHY = 'ES_TEST_MYSQL_URL is not set (no server at 127.0.0.1:3306)';

/** A new, empty database on the MariaDB test server, its URL, and a way to drop it. */
export async function freshMysqlDatabase(): Promise<{ url: string; database: string; drop: () => Promise<void> }> {
  if (!mysqlServerUrl) throw new Error('ES_TEST_MYSQL_URL is not set');
  const database = `t_${randomBytes(6).toString('hex')}`;
  const admin = await createConnection(mysqlServerUrl);
  try {
    await admin.query(`CREATE DATABASE \`${database}\``);
  } finally {
    await admin.end();
  }
  const url = new URL(mysqlServerUrl);
  url.pathname = `/${database}`;
  return {
    url: url.toString(),
    database,
    drop: async () => {
      const conn = await createConnection(mysqlServerUrl as string);
      try {
        await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
      } finally {
        await conn.end();
      }
    },
  };
}

export type KindName = 'sqlite' | 'postgres' | 'mariadb';

/** A connection of the driver's own to a fresh target, outside es (what an application holds). */
export interface RawConnection {
  /** A better-sqlite3 Database, a node-postgres Client (search_path on the target's schema), a mysql2 promise connection. */
  db: unknown;
  /** Runs `work` inside a transaction on `db`, committing unless it throws. */
  tx<T>(work: () => Promise<T>): Promise<T>;
  /** Rows of a query (no parameters). */
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export interface FreshTarget {
  url: string;
  /** Rows of a query on the target (no parameters). */
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** A connection of the driver's own to it. */
  connect(): Promise<RawConnection>;
  drop(): Promise<void>;
}

/**
 * SQL on a connection es's Target hands out (a better-sqlite3 Database, a node-postgres pool client,
 * a mysql2 pool connection): `?` parameters everywhere, synchronous on SQLite.
 */
export interface TargetSql {
  /** A column type for a short text key (MariaDB's TEXT cannot be one). */
  key: string;
  run(db: unknown, sql: string, params?: readonly unknown[]): void | Promise<void>;
  rows<T = Record<string, unknown>>(db: unknown, sql: string, params?: readonly unknown[]): T[] | Promise<T[]>;
}

interface MysqlDb {
  query(sql: string, params?: unknown[]): Promise<[unknown, unknown]>;
}

export interface TargetKind extends Backend {
  name: KindName;
  sql: TargetSql;
  /** A fresh target (a SQLite file in `dir`, a PostgreSQL schema, a MariaDB database). */
  fresh(dir: string): Promise<FreshTarget>;
  /** Source of a projection file: `strict` (a primary key per event id) or `tally` (counts applications). */
  projection(name: 'strict' | 'tally', fileTarget?: string): string;
}

const targetLine = (t?: string) => (t ? `target: ${JSON.stringify(t)},` : '');

const sqliteTarget: TargetKind = named({
  name: 'sqlite',
  label: 'SQLite',
  available: true,
  sql: {
    key: 'TEXT',
    run: (db, sql, params = []) => void (db as SqliteDb).prepare(sql).run(...params),
    rows: <T>(db: unknown, sql: string, params: readonly unknown[] = []) => (db as SqliteDb).prepare(sql).all(...params) as T[],
  },
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
      async connect() {
        const db = new Database(path);
        return {
          db,
          async tx(work) {
            // better-sqlite3 answers at once: the awaits inside never leave the transaction.
            db.exec('BEGIN');
            try {
              const result = await work();
              db.exec('COMMIT');
              return result;
            } catch (error) {
              db.exec('ROLLBACK');
              throw error;
            }
          },
          query: async (sql) => db.prepare(sql).all() as Record<string, unknown>[],
          close: async () => void db.close(),
        };
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
});

const postgresTarget = (serverUrl: () => string): TargetKind =>
  named({
    name: 'postgres',
    label: 'PostgreSQL',
    available: true,
    sql: {
      key: 'TEXT',
      run: async (db, sql, params = []) => void (await (db as PgDb).query(numbered(sql), [...params])),
      rows: async <T>(db: unknown, sql: string, params: readonly unknown[] = []) => (await (db as PgDb).query(numbered(sql), [...params])).rows as T[],
    },
    async fresh() {
      const { schema, drop } = freshPgStore(serverUrl());
      const url = new URL(serverUrl());
      url.searchParams.set('schema', schema);
      const connect = async (): Promise<pg.Client> => {
        const client = new pg.Client({ connectionString: serverUrl() });
        await client.connect();
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
        await client.query(`SET search_path TO "${schema}"`);
        return client;
      };
      return {
        url: url.toString(),
        async query(sql) {
          const client = await connect();
          try {
            return (await client.query(sql)).rows as Record<string, unknown>[];
          } finally {
            await client.end();
          }
        },
        async connect() {
          const client = await connect();
          return {
            db: client,
            async tx(work) {
              await client.query('BEGIN');
              try {
                const result = await work();
                await client.query('COMMIT');
                return result;
              } catch (error) {
                await client.query('ROLLBACK');
                throw error;
              }
            },
            query: async (sql) => (await client.query(sql)).rows as Record<string, unknown>[],
            close: () => client.end(),
          };
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

const mariadbTarget: TargetKind = named({
  name: 'mariadb',
  label: 'MariaDB',
  available: mysqlServerUrl !== undefined,
  why: MYSQL_WHY,
  sql: {
    key: 'VARCHAR(64)',
    run: async (db, sql, params = []) => void (await (db as MysqlDb).query(sql, [...params])),
    rows: async <T>(db: unknown, sql: string, params: readonly unknown[] = []) => (await (db as MysqlDb).query(sql, [...params]))[0] as T[],
  },
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
      async connect() {
        const conn = await createConnection(url);
        return {
          db: conn,
          async tx(work) {
            await conn.beginTransaction();
            try {
              const result = await work();
              await conn.commit();
              return result;
            } catch (error) {
              await conn.rollback();
              throw error;
            }
          },
          query: async (sql) => (await conn.query(sql))[0] as Record<string, unknown>[],
          close: () => conn.end(),
        };
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
});

/** Every kind of read-model target: SQLite and PostgreSQL always, MariaDB when ES_TEST_MYSQL_URL is set. */
export function targetKinds(serverUrl: () => string = pgServerUrl): TargetKind[] {
  return [sqliteTarget, postgresTarget(serverUrl), mariadbTarget];
}

/** `describe` on MariaDB alone: skipped, saying why, without a server. */
export function describeMysql(name: string, body: () => void): void {
  describeEach([mariadbTarget])(name, () => body());
}

// ---------------------------------------------------------------------------------------------
// Brokers

/** Set by .ci/run when the machine's brokers answer; without them the broker tests say they did not run. */
export const NATS_URL = process.env.ES_TEST_NATS_URL || undefined;
export const AMQP_URL = process.env.ES_TEST_AMQP_URL || undefined;

const notSet = (variable: string): string => `${variable} is not set (.ci/run sets it when the broker answers)`;

/** Says on stderr that a broker's tests did not run (see reportNotRun). */
export function sayNotRun(broker: string, variable: string): void {
  reportNotRun(broker, notSet(variable));
}

export const uniqueName = (prefix: string): string => `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

export interface Received {
  /** The message id (Nats-Msg-Id / AMQP messageId). */
  id: string;
  headers: Record<string, string>;
  body: { id: string; position: number; streamId: string; version: number; type: string; data: unknown };
  subject: string;
}

/** A JetStream stream of its own for one test, deleted by `drop`. */
export async function jetStreamFor(url: string, subjects: string[], extra: { max_msg_size?: number; duplicate_window?: number } = {}) {
  const name = uniqueName('ESTEST');
  const nc: NatsConnection = await natsConnect({ servers: new URL(url).host });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects, ...extra });
  return {
    name,
    async count(): Promise<number> {
      return (await jsm.streams.info(name)).state.messages;
    },
    /** Every message in the stream, in stream order. */
    async messages(): Promise<Received[]> {
      const total = (await jsm.streams.info(name)).state.messages;
      const out: Received[] = [];
      if (total === 0) return out;
      const consumer = await jetstream(nc).consumers.get(name);
      const messages = await consumer.fetch({ max_messages: total, expires: 10_000 });
      for await (const m of messages as AsyncIterable<JsMsg>) {
        const headers: Record<string, string> = {};
        for (const key of m.headers?.keys() ?? []) headers[key] = m.headers?.get(key) ?? '';
        out.push({ id: headers['Nats-Msg-Id'] ?? '', headers, body: m.json(), subject: m.subject });
        if (out.length >= total) break;
      }
      return out;
    },
    async drop(): Promise<void> {
      await jsm.streams.delete(name).catch(() => {});
      await nc.close();
    },
  };
}

/** A topic exchange and a queue bound to it (`#`) for one test, deleted by `drop`. */
export async function rabbitFor(url: string, binding = '#') {
  const exchange = uniqueName('es-test-x-');
  const queue = uniqueName('es-test-q-');
  const connection: ChannelModel = await amqp.connect(url);
  // Unheard, a connection error would be thrown at the test runner; the next call on it fails instead.
  connection.on('error', () => {});
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: false });
  await channel.assertQueue(queue, { durable: false });
  await channel.bindQueue(queue, exchange, binding);
  return {
    exchange,
    queue,
    channel,
    async count(): Promise<number> {
      return (await channel.checkQueue(queue)).messageCount;
    },
    /** Takes every message waiting in the queue, as a consumer with automatic acknowledgement. */
    async drain(): Promise<Received[]> {
      const out: Received[] = [];
      const waiting = (await channel.checkQueue(queue)).messageCount;
      if (waiting === 0) return out;
      let tag = '';
      await new Promise<void>((resolve, reject) => {
        channel
          .consume(
            queue,
            (m) => {
              if (m === null) return;
              const headers = Object.fromEntries(Object.entries(m.properties.headers ?? {}).map(([k, v]) => [k, String(v)]));
              out.push({ id: String(m.properties.messageId), headers, body: JSON.parse(m.content.toString('utf8')), subject: m.fields.routingKey });
              if (out.length >= waiting) resolve();
            },
            { noAck: true },
          )
          .then((ok) => (tag = ok.consumerTag), reject);
      });
      await channel.cancel(tag);
      return out;
    },
    async drop(): Promise<void> {
      await channel.deleteQueue(queue).catch(() => {});
      await channel.deleteExchange(exchange).catch(() => {});
      await connection.close().catch(() => {});
    },
  };
}

/** One broker under test: where es publishes (a projection's `publish`), and what arrived there. */
export interface BrokerRig {
  /** The projection's `publish`; `port` sends it through another port (a relay). */
  publish(port?: number): { to: string } & Record<string, string>;
  /** What the broker holds, in arrival order (RabbitMQ's queue is drained by it). */
  messages(): Promise<Received[]>;
  drop(): Promise<void>;
}

export interface BrokerKind extends Backend {
  name: 'nats' | 'amqp';
  url: string | undefined;
  /**
   * A destination of its own for one test (a JetStream stream, a RabbitMQ exchange and queue). With
   * `onlyType`, only events of that type are routed anywhere: the others cannot be published.
   */
  rig(onlyType?: string): Promise<BrokerRig>;
}

const natsKind: BrokerKind = named({
  name: 'nats',
  label: 'NATS JetStream',
  url: NATS_URL,
  available: NATS_URL !== undefined,
  why: notSet('ES_TEST_NATS_URL'),
  async rig(onlyType) {
    const prefix = uniqueName('estest');
    const stream = await jetStreamFor(NATS_URL as string, [`${prefix}.${onlyType ?? '>'}`]);
    const url = new URL(NATS_URL as string);
    return {
      publish: (port) => ({ to: `nats://127.0.0.1:${port ?? url.port}`, subject: `${prefix}.{type}` }),
      messages: () => stream.messages(),
      drop: () => stream.drop(),
    };
  },
});

const amqpKind: BrokerKind = named({
  name: 'amqp',
  label: 'RabbitMQ',
  url: AMQP_URL,
  available: AMQP_URL !== undefined,
  why: notSet('ES_TEST_AMQP_URL'),
  async rig(onlyType) {
    const rabbit = await rabbitFor(AMQP_URL as string, onlyType ? `*.${onlyType}` : '#');
    const url = new URL(AMQP_URL as string);
    return {
      publish: (port) => ({
        to: `amqp://${url.username}:${url.password}@127.0.0.1:${port ?? url.port}`,
        exchange: rabbit.exchange,
        routingKey: '{streamId}.{type}',
      }),
      messages: () => rabbit.drain(),
      drop: () => rabbit.drop(),
    };
  },
});

/** Every broker: NATS JetStream when ES_TEST_NATS_URL is set, RabbitMQ when ES_TEST_AMQP_URL is. */
export function brokerKinds(): BrokerKind[] {
  return [natsKind, amqpKind];
}
