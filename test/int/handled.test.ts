import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDialect, handledIds, type HandledIds } from '../../src/drivers/handled/index.js';
import { describeEach, targetKinds } from '../support/backends.js';

interface Harness {
  db: unknown;
  /** Runs `work` inside a transaction on `db`, committing unless it throws. */
  tx<T>(work: () => Promise<T>): Promise<T>;
  count(sql: string): Promise<number>;
}

const DAY = 86_400_000;
const entries = (...ps: number[]) => ps.map((p) => ({ id: `e${p}`, position: p }));

/** One feature suite for every dialect: the same behaviour through the same interface. */
function handledSuite(open: () => Promise<{ harness: Harness; close: () => Promise<void> }>): void {
  let h: Harness;
  let ids: HandledIds;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ harness: h, close } = await open());
    ids = handledIds(h.db);
    await ids.ensure();
    await ids.ensure(); // idempotent
  });
  afterAll(async () => close());

  it('looks up a batch and records only new ids', async () => {
    expect([...(await ids.among('p1', ['e1', 'e2']))]).toEqual([]);
    expect(await h.tx(async () => ids.record('p1', entries(1, 2, 3)))).toBe(3);
    expect(await h.tx(async () => ids.record('p1', entries(2, 3, 4)))).toBe(1);
    expect([...(await ids.among('p1', ['e1', 'e4', 'e9']))].sort()).toEqual(['e1', 'e4']);
    // Another projection's ids are its own.
    expect([...(await ids.among('p2', ['e1']))]).toEqual([]);
    expect(await ids.among('p1', [])).toEqual(new Set());
  });

  it('a duplicate inside a transaction leaves the transaction usable, and a rollback records nothing', async () => {
    await h.tx(async () => {
      expect(await ids.record('p3', entries(1))).toBe(1);
      expect(await ids.record('p3', entries(1))).toBe(0);
      expect(await ids.record('p3', entries(2))).toBe(1);
    });
    expect((await ids.among('p3', ['e1', 'e2'])).size).toBe(2);
    await expect(
      h.tx(async () => {
        await ids.record('p3', entries(7));
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect((await ids.among('p3', ['e7'])).size).toBe(0);
  });

  it('ids differing only in case or trailing spaces are different ids', async () => {
    const odd = [
      { id: 'Ab', position: 1 },
      { id: 'ab', position: 2 },
      { id: 'ab ', position: 3 },
    ];
    expect(await h.tx(async () => ids.record('p4', odd))).toBe(3);
    expect([...(await ids.among('p4', ['ab', 'AB']))]).toEqual(['ab']);
  });

  it('clears all of a projection, or what is at or after a position', async () => {
    await h.tx(async () => ids.record('p5', entries(1, 2, 3, 4)));
    await h.tx(async () => ids.record('p6', entries(1)));
    expect(await h.tx(async () => ids.clear('p5', 3))).toBe(2);
    expect([...(await ids.among('p5', ['e1', 'e2', 'e3', 'e4']))].sort()).toEqual(['e1', 'e2']);
    expect(await h.tx(async () => ids.clear('p5'))).toBe(2);
    expect((await ids.among('p6', ['e1'])).size).toBe(1);
  });

  it('prunes in chunks only what is older than the time and at or below the position', async () => {
    const now = Date.now();
    // Ten days old: 1..10; an hour old: 11..12.
    await h.tx(async () => ids.record('p7', entries(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), new Date(now - 10 * DAY)));
    await h.tx(async () => ids.record('p7', entries(11, 12), new Date(now - 3_600_000)));
    await h.tx(async () => ids.record('p8', entries(1), new Date(now - 10 * DAY)));
    // Checkpoint at 6: ids 7..10 are old but above it (a long outage): kept.
    expect(await ids.prune({ projection: 'p7', before: new Date(now - 7 * DAY), atOrBelow: 6, chunk: 4 })).toBe(6);
    const left = [
      ...(await ids.among(
        'p7',
        entries(...Array.from({ length: 12 }, (_, i) => i + 1)).map((e) => e.id),
      )),
    ];
    expect(left.sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))).toEqual(['e7', 'e8', 'e9', 'e10', 'e11', 'e12']);
    expect(await ids.prune({ projection: 'p7', before: new Date(now - 7 * DAY), atOrBelow: 100, chunk: 3 })).toBe(4);
    expect(await h.count("SELECT COUNT(*) AS n FROM es_handled WHERE projection = 'p7'")).toBe(2);
    expect(await h.count("SELECT COUNT(*) AS n FROM es_handled WHERE projection = 'p8'")).toBe(1);
  });

  it('refuses an id that is not a non-empty string', async () => {
    await expect(h.tx(async () => ids.record('p9', [{ id: '', position: 1 }]))).rejects.toThrow('non-empty string');
  });
}

describeEach(targetKinds())('handled ids on %s', (kind) => {
  handledSuite(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'es-handled-'));
    const target = await kind.fresh(dir);
    // The driver's own connection (a better-sqlite3 Database, a node-postgres client, a mysql2 connection).
    const conn = await target.connect();
    const harness: Harness = {
      db: conn.db,
      tx: (work) => conn.tx(work),
      count: async (sql) => Number((await conn.query(sql))[0]?.n),
    };
    return {
      harness,
      close: async () => {
        await conn.close();
        await target.drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
});

describe('detectDialect', () => {
  it('tells the drivers apart and refuses other objects', async () => {
    const db = new Database(':memory:');
    expect(detectDialect(db)).toBe('sqlite');
    expect(detectDialect(new pg.Client())).toBe('postgres');
    expect(detectDialect(new pg.Pool())).toBe('postgres');
    expect(detectDialect({ query() {} })).toBeNull();
    expect(() => handledIds({})).toThrow('not a database es knows');
    db.close();
  });
});
