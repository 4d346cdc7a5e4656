/**
 * The behaviour every read-model Target must have (a projection's `target`), on every kind of
 * target (see targetKinds): one transaction for a batch, a connection outside any transaction, what
 * counts as transient, the handled-id table and its marks through `handled(db)` and `marks(db)`, and
 * the longest event id it declares. Each case opens a fresh target with openTarget, as the CLI does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { isThenable } from '../../src/core/maybe.js';
import { openTarget } from '../../src/drivers/open-target.js';
import type { HandledIds, HandledMarks } from '../../src/ports/handled.js';
import type { Target } from '../../src/ports/target.js';
import { describeEach, targetKinds, type FreshTarget } from '../support/backends.js';

const DAY = 86_400_000;
const entries = (...ps: number[]) => ps.map((p) => ({ id: `e${p}`, position: p }));
const sorted = (ids: Iterable<string>) => [...ids].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));

/**
 * Runs the steps one after the other and gives their results: at once when none returns a Promise
 * (a synchronous target's transaction cannot span an await), after them when one does.
 */
function inOrder(...steps: (() => unknown)[]): unknown[] | Promise<unknown[]> {
  const results: unknown[] = [];
  const from = (i: number): unknown[] | Promise<unknown[]> => {
    if (i === steps.length) return results;
    const result = (steps[i] as () => unknown)();
    if (isThenable(result)) return Promise.resolve(result).then((value) => (results.push(value), from(i + 1)));
    results.push(result);
    return from(i + 1);
  };
  return from(0);
}

describeEach(targetKinds())('Target contract: %s', (kind) => {
  let dir: string;
  let fresh: FreshTarget;
  let target: Target;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'es-target-contract-'));
    fresh = await kind.fresh(dir);
    target = await openTarget(fresh.url);
  });
  afterEach(async () => {
    await target.close();
    await fresh.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const { sql } = kind;
  const scratch = () => target.withConnection((db) => sql.run(db, `CREATE TABLE IF NOT EXISTS scratch (id ${sql.key} PRIMARY KEY)`));
  const insert = (db: unknown, id: string) => sql.run(db, 'INSERT INTO scratch (id) VALUES (?)', [id]);
  /** What another connection sees: committed rows only. */
  const committed = async () => (await fresh.query('SELECT id FROM scratch ORDER BY id')).map((r) => String(r.id));
  /** The handled-id table through a connection of the target, in a transaction or out of one. */
  const inTransaction = <T>(work: (ids: HandledIds) => T) => target.transaction((db) => work(target.handled(db)));
  const outside = <T>(work: (ids: HandledIds) => T) => target.withConnection((db) => work(target.handled(db)));
  const marks = <T>(work: (marks: HandledMarks) => T) => target.transaction((db) => work(target.marks(db)));

  it('runs work in one transaction: commits when it returns (with its value), rolls back and rethrows when it throws', async () => {
    await scratch();
    expect(
      await target.transaction((db) =>
        inOrder(
          () => insert(db, 'a'),
          () => insert(db, 'b'),
          () => 42,
        ),
      ),
    ).toEqual([undefined, undefined, 42]);
    expect(await committed()).toEqual(['a', 'b']);
    const failure = new Error('handler exploded');
    await expect(
      target.transaction((db) =>
        inOrder(
          () => insert(db, 'c'),
          () => {
            throw failure;
          },
        ),
      ),
    ).rejects.toBe(failure);
    expect(await committed()).toEqual(['a', 'b']);
    // A failing statement rolls back what came before it in the transaction too.
    await expect(
      target.transaction((db) =>
        inOrder(
          () => insert(db, 'd'),
          () => insert(db, 'a'),
        ),
      ),
    ).rejects.toThrow();
    expect(await committed()).toEqual(['a', 'b']);
  });

  // SQLite only: better-sqlite3's transactions cannot span an await; the others' work is asynchronous.
  it.runIf(kind.name === 'sqlite')('a synchronous target refuses work that returns a Promise, and keeps nothing of it', async () => {
    expect(target.synchronous).toBe(true);
    await scratch();
    await expect(target.transaction(async (db) => insert(db, 'late'))).rejects.toThrow(/must be synchronous/);
    expect(await committed()).toEqual([]);
  });

  it('withConnection runs outside any transaction: each statement stands on its own', async () => {
    await scratch();
    const failure = new Error('after the insert');
    await expect(
      target.withConnection((db) =>
        inOrder(
          () => insert(db, 'kept'),
          () => {
            throw failure;
          },
        ),
      ),
    ).rejects.toBe(failure);
    expect(await committed()).toEqual(['kept']);
    expect(await target.withConnection(() => 'value')).toBe('value');
  });

  it('calls an ordinary error, a key violation or a syntax error not transient', async () => {
    await scratch();
    await target.withConnection((db) => insert(db, 'x'));
    const errorOf = async (work: (db: unknown) => unknown) => {
      try {
        await target.withConnection(work);
      } catch (error) {
        return error;
      }
      throw new Error('(the work did not throw)');
    };
    expect(target.isTransient(new Error('handler exploded'))).toBe(false);
    expect(target.isTransient(await errorOf((db) => insert(db, 'x')))).toBe(false);
    expect(target.isTransient(await errorOf((db) => sql.run(db, 'SELEKT nothing')))).toBe(false);
    expect(target.isTransient(null)).toBe(false);
  });

  it('handled ids: ensure twice, look a batch up, record only new ids (how many), per projection', async () => {
    await outside((ids) => ids.ensure());
    await outside((ids) => ids.ensure());
    expect([...(await outside((ids) => ids.among('p1', ['e1', 'e2'])))]).toEqual([]);
    expect(await inTransaction((ids) => ids.record('p1', entries(1, 2, 3)))).toBe(3);
    expect(await inTransaction((ids) => ids.record('p1', entries(2, 3, 4)))).toBe(1);
    expect(sorted(await outside((ids) => ids.among('p1', ['e1', 'e4', 'e9'])))).toEqual(['e1', 'e4']);
    expect(await outside((ids) => ids.among('p2', ['e1']))).toEqual(new Set());
    expect(await outside((ids) => ids.among('p1', []))).toEqual(new Set());
    // A duplicate inside a transaction is a no-op that leaves it usable; a rollback records nothing.
    expect(
      await inTransaction((ids) =>
        inOrder(
          () => ids.record('p3', entries(1)),
          () => ids.record('p3', entries(1)),
          () => ids.record('p3', entries(2)),
        ),
      ),
    ).toEqual([1, 0, 1]);
    await expect(
      inTransaction((ids) =>
        inOrder(
          () => ids.record('p3', entries(7)),
          () => {
            throw new Error('rolled back');
          },
        ),
      ),
    ).rejects.toThrow('rolled back');
    expect(sorted(await outside((ids) => ids.among('p3', ['e1', 'e2', 'e7'])))).toEqual(['e1', 'e2']);
    // Ids differing only in case or trailing spaces are different ids.
    expect(
      await inTransaction((ids) =>
        ids.record('p4', [
          { id: 'Ab', position: 1 },
          { id: 'ab', position: 2 },
          { id: 'ab ', position: 3 },
        ]),
      ),
    ).toBe(3);
    expect([...(await outside((ids) => ids.among('p4', ['ab', 'AB'])))]).toEqual(['ab']);
  });

  it('handled ids: cleared all, or from a position; pruned in chunks by age and position', async () => {
    await outside((ids) => ids.ensure());
    await inTransaction((ids) => ids.record('p5', entries(1, 2, 3, 4)));
    await inTransaction((ids) => ids.record('p6', entries(1)));
    expect(await inTransaction((ids) => ids.clear('p5', 3))).toBe(2);
    expect(sorted(await outside((ids) => ids.among('p5', ['e1', 'e2', 'e3', 'e4'])))).toEqual(['e1', 'e2']);
    expect(await inTransaction((ids) => ids.clear('p5'))).toBe(2);
    expect((await outside((ids) => ids.among('p6', ['e1']))).size).toBe(1);

    const now = Date.now();
    // Ten days old: 1..10; an hour old: 11..12.
    await inTransaction((ids) => ids.record('p7', entries(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), new Date(now - 10 * DAY)));
    await inTransaction((ids) => ids.record('p7', entries(11, 12), new Date(now - 3_600_000)));
    await inTransaction((ids) => ids.record('p8', entries(1), new Date(now - 10 * DAY)));
    const all = entries(...Array.from({ length: 12 }, (_, i) => i + 1)).map((e) => e.id);
    // Checkpoint at 6: ids 7..10 are old but above it (a long outage): kept. Each chunk commits on its own.
    expect(await outside((ids) => ids.prune({ projection: 'p7', before: new Date(now - 7 * DAY), atOrBelow: 6, chunk: 4 }))).toBe(6);
    expect(sorted(await outside((ids) => ids.among('p7', all)))).toEqual(['e7', 'e8', 'e9', 'e10', 'e11', 'e12']);
    expect(await outside((ids) => ids.prune({ projection: 'p7', before: new Date(now - 7 * DAY), atOrBelow: 100, chunk: 3 }))).toBe(4);
    expect(sorted(await outside((ids) => ids.among('p7', all)))).toEqual(['e11', 'e12']);
    expect((await outside((ids) => ids.among('p8', ['e1']))).size).toBe(1);
  });

  it('marks: none before the table, raised but never lowered by mark, lowered or forgotten by clear; handledExists follows es_handled', async () => {
    expect(await marks((m) => m.handledExists())).toBe(false);
    expect(await marks((m) => m.markOf('p'))).toBeNull();
    // Clearing before the table exists is a no-op.
    await marks((m) => m.clear('p'));
    await marks((m) => m.ensure());
    await marks((m) => m.ensure());
    expect(await marks((m) => m.markOf('p'))).toBeNull();
    await marks((m) => m.mark('p', 5));
    expect(await marks((m) => m.markOf('p'))).toBe(5);
    await marks((m) => m.mark('p', 3));
    expect(await marks((m) => m.markOf('p'))).toBe(5);
    await marks((m) => m.mark('p', 9));
    await marks((m) => m.mark('q', 2));
    expect(await marks((m) => m.markOf('p'))).toBe(9);
    // A replay-from 7 lowers it below 7; one from further on leaves it.
    await marks((m) => m.clear('p', 7));
    expect(await marks((m) => m.markOf('p'))).toBe(6);
    await marks((m) => m.clear('p', 20));
    expect(await marks((m) => m.markOf('p'))).toBe(6);
    // A rebuild forgets it; another projection's stays.
    await marks((m) => m.clear('p'));
    expect(await marks((m) => m.markOf('p'))).toBeNull();
    expect(await marks((m) => m.markOf('q'))).toBe(2);
    // A mark written in a transaction that rolls back is not kept.
    await expect(
      target.transaction((db) =>
        inOrder(
          () => target.marks(db).mark('q', 50),
          () => {
            throw new Error('rolled back');
          },
        ),
      ),
    ).rejects.toThrow('rolled back');
    expect(await marks((m) => m.markOf('q'))).toBe(2);
    expect(await marks((m) => m.handledExists())).toBe(false);
    await outside((ids) => ids.ensure());
    expect(await marks((m) => m.handledExists())).toBe(true);
  });

  it("records ids as long as the longest it declares (maxIdBytes), and refuses longer ones; without a limit, the store's longest", async () => {
    await outside((ids) => ids.ensure());
    // The store takes ids up to 1024 UTF-8 bytes: a target without a limit records those.
    const limit = target.maxIdBytes ?? 1024;
    const longest = `${'\u00e9'.repeat(Math.floor(limit / 2))}${'x'.repeat(limit % 2)}`;
    expect(Buffer.byteLength(longest)).toBe(limit);
    expect(await inTransaction((ids) => ids.record('p', [{ id: longest, position: 1 }]))).toBe(1);
    expect([...(await outside((ids) => ids.among('p', [longest])))]).toEqual([longest]);
    if (target.maxIdBytes === undefined) return;
    const over = `${longest}x`;
    await expect(inTransaction((ids) => ids.record('p', [{ id: over, position: 2 }]))).rejects.toThrow(/longer than/);
    await expect(outside((ids) => ids.among('p', [over]))).rejects.toThrow(/longer than/);
  });
});
