import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_COLUMNS } from '../../src/drivers/sqlite/rows.js';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';
import { thrown } from '../support/thrown.js';

let root: string;
let counter = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'es-sqlite-store-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A path in a new, existing folder of the temp dir. */
function freshPath(name = 'events.db'): string {
  counter += 1;
  const folder = join(root, `case-${counter}`);
  mkdirSync(folder);
  return join(folder, name);
}

// The EventStore contract runs on SQLite in test/contract/store.contract.ts; what follows is SQLite's own.

describe('SqliteEventStore: opening files', () => {
  it('refuses a missing file without create (ENVIRONMENT, file not created); with create makes it and its folders', async () => {
    const path = freshPath();
    const error = thrown(() => new SqliteEventStore(path));
    expect(error).toMatchObject({ code: 'ENVIRONMENT' });
    expect((error as Error).message).toContain(path);
    expect(existsSync(path)).toBe(false);

    const nested = freshPath('nested/deeper/events.db');
    const store = new SqliteEventStore(nested, { create: true });
    await store.append('a', [{ type: 'X' }]);
    await store.close();
    expect(existsSync(nested)).toBe(true);
  });

  it('rejects a file that is not SQLite, or an empty one without create (ENVIRONMENT), leaving it as it was', () => {
    const path = freshPath('notes.db');
    const text = 'these are my notes, not a database\n'.repeat(200);
    writeFileSync(path, text);
    for (const create of [false, true]) {
      expect(thrown(() => new SqliteEventStore(path, { create }))).toMatchObject({ code: 'ENVIRONMENT' });
    }
    expect(readFileSync(path, 'utf8')).toBe(text);

    const empty = freshPath('empty.db');
    writeFileSync(empty, '');
    expect(thrown(() => new SqliteEventStore(empty))).toMatchObject({ code: 'ENVIRONMENT' });
  });

  it('rejects a foreign SQLite database (ENVIRONMENT), with or without create, and leaves it unchanged', () => {
    const path = freshPath('app.db');
    const foreign = new Sqlite(path);
    foreign.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('ada')");
    const journalBefore = foreign.pragma('journal_mode', { simple: true });
    foreign.close();

    for (const create of [false, true]) {
      const error = thrown(() => new SqliteEventStore(path, { create }));
      expect(error).toMatchObject({ code: 'ENVIRONMENT' });
      expect((error as Error).message).toMatch(/not an es event store/);
    }

    const check = new Sqlite(path, { readonly: true });
    const tables = check.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    const journalAfter = check.pragma('journal_mode', { simple: true });
    check.close();
    expect(tables).toEqual(['customers']);
    // Opening someone else's database by mistake must not change it (e.g. switch it to WAL).
    expect(journalAfter).toBe(journalBefore);
  });

  it('refuses an event store of another schema version with ENVIRONMENT', async () => {
    const path = freshPath();
    const store = new SqliteEventStore(path, { create: true });
    await store.append('a', [{ type: 'X' }]);
    await store.close();
    const raw = new Sqlite(path);
    raw.pragma('user_version = 99');
    raw.close();
    const error = thrown(() => new SqliteEventStore(path));
    expect(error).toMatchObject({ code: 'ENVIRONMENT' });
    expect((error as Error).message).toContain('99');
  });

  it('opens a store written with the first schema (events only, schema version 1), or refuses it with ENVIRONMENT', async () => {
    // The schema of the first release: no es_locks table, same application_id and user_version.
    const path = freshPath();
    const raw = new Sqlite(path);
    raw.exec(`
      CREATE TABLE events (
        position INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, stream_id TEXT NOT NULL,
        version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,
        recorded_at TEXT NOT NULL, system INTEGER NOT NULL, UNIQUE (stream_id, version));
      CREATE INDEX events_type_position ON events (type, position) WHERE system = 0;
      INSERT INTO events (id, stream_id, version, type, data, metadata, recorded_at, system)
        VALUES ('e-1', 'a', 1, 'X', '{"n":1}', '{}', '2026-01-01T00:00:00.000Z', 0);
      PRAGMA application_id = ${0x6573};
      PRAGMA user_version = 1;`);
    raw.close();
    let store: SqliteEventStore | undefined;
    try {
      store = new SqliteEventStore(path);
    } catch (error) {
      expect(error, 'a store of the first release must open, or be refused as ENVIRONMENT').toMatchObject({
        code: 'ENVIRONMENT',
      });
      return;
    }
    expect((await store.read({})).map((e) => e.id)).toEqual(['e-1']);
    await store.close();
  });

  it('keeps its data when reopened, and carries on positions and versions', async () => {
    const path = freshPath();
    const first = new SqliteEventStore(path, { create: true });
    await first.append('a', [{ type: 'X', data: { n: 1 } }, { type: 'Y' }]);
    await first.append('$checkpoint-p', [{ type: 'Checkpoint', data: { position: 2 } }]);
    const before = await first.read({ includeSystem: true });
    await first.close();

    const again = new SqliteEventStore(path);
    expect(await again.read({ includeSystem: true })).toEqual(before);
    expect(await again.head()).toBe(before[1]!.position);
    const next = await again.append('a', [{ type: 'Z' }], 2);
    expect(next.version).toBe(3);
    expect(next.position).toBeGreaterThan(before[2]!.position);
    await again.close();
  });

  it('creates a file that is not world-writable, even with a permissive umask', async () => {
    const path = freshPath();
    let previous: number | undefined;
    try {
      previous = process.umask(0);
    } catch {
      previous = undefined; // umask cannot be changed here (worker thread): check with the default one
    }
    try {
      const store = new SqliteEventStore(path, { create: true });
      await store.append('a', [{ type: 'X' }]);
      await store.close();
    } finally {
      if (previous !== undefined) process.umask(previous);
    }
    const mode = statSync(path).mode & 0o777;
    expect(mode & 0o002).toBe(0);
    expect(mode & 0o600).toBe(0o600);
  });

  it('creates the store file and its -wal and -shm files readable by the owner only (0600), whatever the umask allows', async () => {
    for (const umask of [0o022, 0o002, 0o077]) {
      const path = freshPath();
      let previous: number | undefined;
      try {
        previous = process.umask(umask);
      } catch {
        previous = undefined; // umask cannot be changed here (worker thread): check with the default one
      }
      try {
        const store = new SqliteEventStore(path, { create: true });
        await store.append('a', [{ type: 'X' }]);
        // While the store is open, SQLite keeps the -wal and -shm files beside it.
        for (const file of [path, `${path}-wal`, `${path}-shm`]) expect((statSync(file).mode & 0o777).toString(8), file).toBe('600');
        await store.close();
      } finally {
        if (previous !== undefined) process.umask(previous);
      }
    }
  });
});

describe('SqliteEventStore: specifics', () => {
  it('refuses an apply that returns a Promise (handlers must be synchronous) and writes nothing', async () => {
    const store = new SqliteEventStore(freshPath(), { create: true });
    store.readModel.exec('CREATE TABLE rm (id TEXT PRIMARY KEY)');
    await expect(
      store.commit({
        apply: async (db) => {
          db.prepare("INSERT INTO rm VALUES ('x')").run();
        },
        streamId: '$checkpoint-p',
        expectedVersion: 'no-stream',
        event: { type: 'Checkpoint', data: { position: 0 } },
      }),
    ).rejects.toMatchObject({ code: 'USAGE' });
    expect(store.readModel.prepare('SELECT count(*) AS n FROM rm').get()).toEqual({ n: 0 });
    expect(await store.lastEvent('$checkpoint-p')).toBeUndefined();
    await store.close();
  });

  it('calls busy and locked errors transient (a real second writer included), and nothing else', async () => {
    const path = freshPath();
    const store = new SqliteEventStore(path, { create: true, busyTimeoutMs: 10 });
    expect(store.synchronous).toBe(true);
    expect(store.isTransient(Object.assign(new Error('busy'), { code: 'SQLITE_BUSY_SNAPSHOT' }))).toBe(true);
    expect(store.isTransient(Object.assign(new Error('locked'), { code: 'SQLITE_LOCKED' }))).toBe(true);
    expect(store.isTransient(Object.assign(new Error('c'), { code: 'CONFLICT' }))).toBe(false);
    expect(store.isTransient(Object.assign(new Error('c'), { code: 'SQLITE_CONSTRAINT_UNIQUE' }))).toBe(false);
    expect(store.isTransient(new Error('plain'))).toBe(false);
    expect(store.isTransient(null)).toBe(false);

    const other = new Sqlite(path);
    other.exec('BEGIN IMMEDIATE');
    let error: unknown;
    try {
      await store.append('a', [{ type: 'X' }]);
    } catch (e) {
      error = e;
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(error).toMatchObject({ code: expect.stringMatching(/^SQLITE_BUSY/) });
    expect(store.isTransient(error)).toBe(true);
    expect((await store.append('a', [{ type: 'X' }])).version).toBe(1);
    await store.close();
  });

  it('the read model hands out statements that behave like fresh ones (pluck on one does not leak)', async () => {
    const store = new SqliteEventStore(freshPath(), { create: true });
    const db = store.readModel;
    db.exec("CREATE TABLE totals (id TEXT PRIMARY KEY, total INTEGER); INSERT INTO totals VALUES ('a', 5)");
    const sql = 'SELECT total FROM totals WHERE id = ?';
    expect(db.prepare(sql).pluck().get('a')).toBe(5);
    expect(db.prepare(sql).get('a')).toEqual({ total: 5 });
    expect(db.prepare(sql).raw().get('a')).toEqual([5]);
    expect(db.prepare(sql).all('a')).toEqual([{ total: 5 }]);
    await store.close();
  });
});

describe('SqliteEventStore: query plans stay cheap', () => {
  const plan = (db: Sqlite.Database, sql: string, ...params: unknown[]): string =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join('\n');

  async function storeWithData(): Promise<SqliteEventStore> {
    const store = new SqliteEventStore(freshPath(), { create: true });
    await store.appendMany(Array.from({ length: 300 }, (_, i) => ({ streamId: `s-${i % 7}`, type: ['A', 'B', 'C'][i % 3]!, data: { i } })));
    await store.append('$checkpoint-x', [{ type: 'Checkpoint', data: { position: 1 } }]);
    store.readModel.exec('ANALYZE');
    return store;
  }

  it('batch, head, pending and lastEvent queries search by position or index, never sort in a temp b-tree', async () => {
    const store = await storeWithData();
    const db = store.readModel;
    const queries: [string, unknown[]][] = [
      [`SELECT ${EVENT_COLUMNS} FROM events NOT INDEXED WHERE position > ? AND system = 0 ORDER BY position LIMIT ?`, [10, 100]],
      [
        `SELECT ${EVENT_COLUMNS} FROM events INDEXED BY events_type_position
     WHERE system = 0 AND type = ? AND position > ? ORDER BY position LIMIT ?`,
        ['A', 10, 100],
      ],
      [
        `SELECT position FROM events INDEXED BY events_type_position
       WHERE system = 0 AND type = ? AND position > ? ORDER BY position LIMIT ?`,
        ['B', 10, 100],
      ],
    ];
    for (const [sql, params] of queries) {
      const detail = plan(db, sql, ...params);
      expect(detail).not.toContain('USE TEMP B-TREE');
      // A range search from `after`, not a scan of the whole log.
      expect(detail).toMatch(/SEARCH events USING (INTEGER PRIMARY KEY \(rowid>\?\)|(COVERING )?INDEX events_type_position \(type=\? AND position>\?\))/);
      expect(detail).not.toMatch(/SCAN events/);
    }

    const head = plan(db, 'SELECT position FROM events NOT INDEXED WHERE system = 0 ORDER BY position DESC LIMIT 1');
    expect(head).not.toContain('USE TEMP B-TREE');
    expect(head).not.toMatch(/INDEX/);
    const pendingSome = plan(
      db,
      `SELECT count(*) AS n, min(recorded_at) AS oldest FROM events
     WHERE system = 0 AND position > ? AND type IN (SELECT value FROM json_each(?))`,
      10,
      '["A","B"]',
    );
    expect(pendingSome).not.toContain('USE TEMP B-TREE');
    expect(pendingSome).not.toMatch(/SCAN events/);
    const pendingAll = plan(db, 'SELECT count(*) AS n, min(recorded_at) AS oldest FROM events NOT INDEXED WHERE position > ? AND system = 0', 10);
    expect(pendingAll).toMatch(/SEARCH events USING INTEGER PRIMARY KEY \(rowid>\?\)/);
    const last = plan(db, `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1`, '$checkpoint-x');
    expect(last).not.toContain('USE TEMP B-TREE');
    expect(last).toMatch(/SEARCH events USING INDEX/);
    await store.close();
  });

  it('the several-types merge fetches rows by position without a temporary sort', async () => {
    const store = await storeWithData();
    const db = store.readModel;
    const sql = `SELECT ${EVENT_COLUMNS.split(', ')
      .map((c) => `events.${c}`)
      .join(', ')}
     FROM json_each(?) AS wanted JOIN events ON events.position = wanted.value`;
    const detail = plan(db, sql, JSON.stringify([1, 2, 3]));
    expect(detail).toMatch(/SEARCH events USING INTEGER PRIMARY KEY/);
    expect(detail).not.toContain('USE TEMP B-TREE');
    await store.close();
  });
});

describe('SqliteEventStore: importEvents holds one transaction across awaits', () => {
  it('shows other connections nothing until the commit, and refuses other writes on the same store meanwhile', async () => {
    const path = freshPath();
    const store = new SqliteEventStore(path, { create: true });
    const reader = new SqliteEventStore(path, { busyTimeoutMs: 50 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let firstDone!: () => void;
    const firstTaken = new Promise<void>((resolve) => (firstDone = resolve));
    async function* source() {
      yield [{ streamId: 'a', type: 'X' }];
      firstDone();
      await gate;
      yield [{ streamId: 'a', type: 'Y' }];
    }
    const importing = store.importEvents(source());
    await firstTaken;
    expect(await reader.read({})).toEqual([]);
    await expect(store.append('b', [{ type: 'Z' }])).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('importing') });
    // another process's writer waits for the import's write lock (here: gives up after 50 ms)
    expect(thrown(() => reader.appendSync('c', [{ type: 'Z' }]))).toMatchObject({ code: expect.stringMatching(/^SQLITE_BUSY/) });
    release();
    expect(await importing).toMatchObject({ appended: 2 });
    expect((await reader.read({})).map((e) => e.type)).toEqual(['X', 'Y']);
    await store.append('b', [{ type: 'Z' }]);
    await reader.close();
    await store.close();
  });
});
