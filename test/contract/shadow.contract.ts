/**
 * The behaviour every ShadowSpace must have (a copy of a read model built beside the live one), on
 * every kind of read-model database: the event store's own (SQLite file beside it, PostgreSQL schema)
 * and every target (SQLite file, PostgreSQL schema, MariaDB database). Unqualified names inside the
 * copy's transactions are the copy's tables; its mark moves only from where it was; the snapshot
 * compares by primary key; the swap makes the copy's tables the live ones at once and removes the copy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openTarget } from '../../src/drivers/open-target.js';
import type { EventStore, ShadowSpace } from '../../src/ports/event-store.js';
import type { Target } from '../../src/ports/target.js';
import { andThen, describeEach, storeKinds, targetKinds, uniqueName, type FreshTarget, type OpenedStore } from '../support/backends.js';

/** The rows of the live table `t`, as another connection sees them. */
type Rows = (sql: string) => Promise<Record<string, unknown>[]>;
/** SQL in a transaction of the copy or the live database: `?` parameters, synchronous on SQLite. */
type Run = (db: unknown, sql: string, params?: readonly unknown[]) => void | Promise<void>;

const plain = (rows: Record<string, unknown>[]) => rows.map((r) => `${String(r.id)}=${String(r.v)}`).sort();

/** Steps one after the other, at once when none returns a Promise (a SQLite transaction cannot span an await). */
function steps(...fns: (() => void | Promise<void>)[]): void | Promise<void> {
  const from = (i: number): void | Promise<void> =>
    i === fns.length ? undefined : (andThen((fns[i] as () => void | Promise<void>)(), () => from(i + 1)) as void | Promise<void>);
  return from(0);
}

/**
 * The cases, on a space and a way to write the live table. `promote` is the swap as this kind of
 * database does it: with the live checkpoint (the store's own database) or with `after` (a target).
 */
function shadowCases(
  rig: () => {
    space: (slot: 'shadow' | 'verify') => ShadowSpace;
    table: string;
    key: string;
    run: Run;
    rows: Rows;
    live: (sql: string) => Promise<void>;
    promote: (space: ShadowSpace) => Promise<void>;
  },
) {
  const fill = (space: ShadowSpace, values: [number, string][]) => {
    const { table, key, run } = rig();
    return space.transaction((db) =>
      steps(
        () => run(db, `CREATE TABLE IF NOT EXISTS ${table} (id ${key} PRIMARY KEY, v VARCHAR(20))`),
        ...values.map(
          ([id, v]) =>
            () =>
              run(db, `INSERT INTO ${table} (id, v) VALUES (?, ?)`, [id, v]),
        ),
      ),
    );
  };

  it('writes the copy under the names the handlers use, leaving the live table alone', async () => {
    const { space, table, key, rows, live } = rig();
    await live(`CREATE TABLE ${table} (id ${key} PRIMARY KEY, v VARCHAR(20))`);
    await live(`INSERT INTO ${table} (id, v) VALUES (1, 'live')`);
    const copy = space('shadow');
    expect(await copy.missing([table])).toEqual([table]);
    await fill(copy, [
      [1, 'copy'],
      [2, 'copy'],
    ]);
    expect(plain(await rows(`SELECT id, v FROM ${table}`))).toEqual(['1=live']);
    expect(await copy.missing([table, 'nothing_here'])).toEqual(['nothing_here']);
    await copy.drop();
    expect(await copy.missing([table])).toEqual([table]);
    expect(await copy.mark()).toBeNull();
    await copy.close();
  });

  it('moves its mark only from where it stood: a second writer that saw an older mark is refused', async () => {
    const copy = rig().space('shadow');
    expect(await copy.mark()).toBeNull();
    const first = { id: 'a', version: 2, position: 0 };
    expect(await copy.transaction((db) => copy.record(db, first, null))).toBe(true);
    expect(await copy.transaction((db) => copy.record(db, { ...first, id: 'b' }, null))).toBe(false);
    const next = { ...first, position: 7, cursor: { transactionId: '12', position: 7 } };
    expect(await copy.transaction((db) => copy.record(db, next, first))).toBe(true);
    expect(await copy.transaction((db) => copy.record(db, { ...first, position: 9 }, first))).toBe(false);
    expect(await copy.mark()).toEqual(next);
    await copy.drop();
    await copy.close();
  });

  it('compares a snapshot of both sides by primary key: only live, only rebuilt, different', async () => {
    const { space, table, key, live } = rig();
    await live(`CREATE TABLE ${table} (id ${key} PRIMARY KEY, v VARCHAR(20))`);
    await live(`INSERT INTO ${table} (id, v) VALUES (1, 'same'), (2, 'old'), (3, 'gone')`);
    const copy = space('verify');
    await fill(copy, [
      [1, 'same'],
      [2, 'new'],
      [4, 'added'],
    ]);
    const snapshot = await copy.snapshot();
    // What the live side does after the snapshot is not seen by the comparison.
    await live(`DELETE FROM ${table} WHERE id = 1`);
    const diff = await snapshot.compare(table, 20);
    await snapshot.close();
    expect({ onlyLive: diff.onlyLive, onlyRebuilt: diff.onlyRebuilt, different: diff.different }).toEqual({ onlyLive: 1, onlyRebuilt: 1, different: 1 });
    const byKind = Object.fromEntries(diff.examples.map((e) => [e.kind, e]));
    expect(Number(byKind.onlyLive?.key.id)).toBe(3);
    expect(Number(byKind.onlyRebuilt?.key.id)).toBe(4);
    expect(byKind.different?.live?.v).toBe('old');
    expect(byKind.different?.rebuilt?.v).toBe('new');
    const again = await copy.snapshot();
    const missing = await again.compare('no_such_table', 20).finally(() => again.close());
    expect(missing.note).toMatch(/neither side/);
    await copy.drop();
    await copy.close();
  });

  it('compares a table without a primary key by all its columns, and names a column only one side has', async () => {
    const { space, table, run, live } = rig();
    await live(`CREATE TABLE ${table} (id INTEGER, v VARCHAR(20))`);
    await live(`INSERT INTO ${table} (id, v) VALUES (1, 'a'), (2, 'b')`);
    const copy = space('verify');
    await copy.transaction((db) =>
      steps(
        () => run(db, `CREATE TABLE IF NOT EXISTS ${table} (id INTEGER, v VARCHAR(20))`),
        () => run(db, `INSERT INTO ${table} (id, v) VALUES (1, 'a'), (2, 'c')`),
      ),
    );
    const snapshot = await copy.snapshot();
    const diff = await snapshot.compare(table, 20).finally(() => snapshot.close());
    expect({ onlyLive: diff.onlyLive, onlyRebuilt: diff.onlyRebuilt, different: diff.different, note: diff.note }).toEqual({
      onlyLive: 1,
      onlyRebuilt: 1,
      different: 0,
      note: undefined,
    });
    await live(`ALTER TABLE ${table} ADD COLUMN extra INTEGER`);
    const again = await copy.snapshot();
    const widened = await again.compare(table, 20).finally(() => again.close());
    expect(widened.note).toMatch(/columns only one side has: extra/);
    await copy.drop();
    await copy.close();
  });

  it('swaps the copy in: the live name holds the copy rows (with the index), and the copy is gone', async () => {
    const { space, table, key, rows, live, promote, run } = rig();
    await live(`CREATE TABLE ${table} (id ${key} PRIMARY KEY, v VARCHAR(20))`);
    await live(`INSERT INTO ${table} (id, v) VALUES (1, 'old')`);
    const copy = space('shadow');
    await fill(copy, [
      [1, 'new'],
      [2, 'new'],
    ]);
    await copy.transaction((db) =>
      steps(
        () => run(db, `CREATE INDEX ${table}_v ON ${table} (v)`),
        () => copy.record(db, { id: 'x', version: 2, position: 5 }, null) as unknown as void,
      ),
    );
    await promote(copy);
    expect(plain(await rows(`SELECT id, v FROM ${table}`))).toEqual(['1=new', '2=new']);
    expect(await copy.mark()).toBeNull();
    expect(await copy.missing([table])).toEqual([table]);
    // The primary key came along: a duplicate is refused.
    await expect(live(`INSERT INTO ${table} (id, v) VALUES (1, 'dup')`)).rejects.toThrow();
    await copy.close();
  });

  it('keeps a verify copy as the shadow (--keep)', async () => {
    const { space, table } = rig();
    const copy = space('verify');
    await fill(copy, [[1, 'kept']]);
    await copy.transaction((db) => copy.record(db, { id: 'k', version: 1, position: 3 }, null));
    await copy.keepAsShadow();
    const shadow = space('shadow');
    expect((await shadow.mark())?.id).toBe('k');
    expect(await shadow.missing([table])).toEqual([]);
    expect(await copy.mark()).toBeNull();
    await shadow.drop();
    await shadow.close();
    await copy.close();
  });
}

describeEach(storeKinds())('ShadowSpace contract, in the event store: %s', (kind) => {
  let opened: OpenedStore;
  let store: EventStore<any>;
  let name: string;
  const made: ShadowSpace[] = [];

  beforeEach(async () => {
    opened = await kind.open();
    store = opened.store;
    name = uniqueName('sh');
  });
  afterEach(async () => {
    for (const space of made.splice(0)) await space.drop().catch(() => {});
    const sql = kind.sql(store);
    await Promise.resolve(sql.exec(store.readModel, `DROP TABLE IF EXISTS ${name}`)).catch(() => {});
    await opened.cleanup();
  });

  shadowCases(() => {
    const sql = kind.sql(store);
    return {
      space: (slot) => {
        const space = store.shadowSpace(name, slot);
        made.push(space);
        return space;
      },
      table: name,
      key: 'INTEGER',
      run: (db, text, params) => sql.run(db, text, params),
      rows: (text) => sql.rows(text),
      live: async (text) => void (await sql.exec(store.readModel, text)),
      promote: async (space) => {
        expect(space.inStore).toBe(true);
        const appended = await space.promote([name], {
          streamId: `$checkpoint-${name}`,
          expectedVersion: 'any',
          event: { type: 'Promoted', data: { position: 5 } },
        });
        expect((await store.lastEvent(`$checkpoint-${name}`))?.version).toBe(appended.version);
      },
    };
  });
});

describeEach(targetKinds())('ShadowSpace contract, in a target: %s', (kind) => {
  let dir: string;
  let fresh: FreshTarget;
  let target: Target;
  let name: string;
  const made: ShadowSpace[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'es-shadow-contract-'));
    fresh = await kind.fresh(dir);
    target = await openTarget(fresh.url);
    name = uniqueName('sh');
  });
  afterEach(async () => {
    for (const space of made.splice(0)) await space.drop().catch(() => {});
    await target.close();
    await fresh.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  shadowCases(() => ({
    space: (slot) => {
      const space = target.shadowSpace(name, slot);
      made.push(space);
      return space;
    },
    table: name,
    key: 'INTEGER',
    run: (db, text, params) => kind.sql.run(db, text, params),
    rows: (text) => fresh.query(text),
    live: async (text) => void (await target.withConnection((db) => kind.sql.run(db, text))),
    promote: async (space) => {
      expect(space.inStore).toBe(false);
      let after = 0;
      await space.swap([name], () => void (after += 1));
      // Done before: the tables are not moved again, `after` runs again.
      await space.swap([name], () => void (after += 1));
      expect(after).toBe(2);
    },
  }));
});
