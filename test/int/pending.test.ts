import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';
import { writeOldStore } from '../support/old-store.js';

let root: string;
let counter = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'es-pending-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});
const freshPath = (): string => join(root, `events-${(counter += 1)}.db`);

/** What pending must say, counted row by row straight from the file. */
function bruteForce(path: string, after: number, types: readonly string[] | null) {
  const db = new Sqlite(path, { readonly: true });
  try {
    const row = db
      .prepare(
        `SELECT count(*) AS count, min(recorded_at) AS oldest FROM events
         WHERE system = 0 AND position > ? AND (? IS NULL OR type IN (SELECT value FROM json_each(?)))`,
      )
      .get(after, types && 'x', JSON.stringify(types ?? [])) as { count: number; oldest: string | null };
    return { count: row.count, oldestRecordedAt: row.oldest };
  } finally {
    db.close();
  }
}

const TYPE_SETS: (string[] | null)[] = [null, ['A'], ['B', 'C'], ['A', 'E', 'A'], ['Nope'], ['D', 'Nope']];

function expectExact(store: SqliteEventStore, path: string, positions: number[]) {
  return Promise.all(
    positions.flatMap((after) =>
      TYPE_SETS.map(async (types) =>
        expect(await store.pending({ after: after, types: types }), JSON.stringify({ after, types })).toEqual(bruteForce(path, after, types)),
      ),
    ),
  );
}

describe('pending from ordinals', () => {
  it('stays exact through appends, imports, checkpoints and trims, at every position', async () => {
    const path = freshPath();
    const store = new SqliteEventStore(path, { create: true });
    const types = ['A', 'B', 'C', 'D', 'E'];
    let seed = 7;
    const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let round = 0; round < 60; round++) {
      const kind = rnd(4);
      if (kind === 0) await store.append(`s-${rnd(5)}`, [{ type: types[rnd(5)]! }, { type: types[rnd(5)]! }]);
      else if (kind === 1) {
        await store.appendMany(Array.from({ length: 1 + rnd(6) }, () => ({ streamId: `t-${rnd(4)}`, type: types[rnd(5)]! })));
      } else {
        // A checkpoint stream trimmed to its last 2 events: deletes system rows, some of them last.
        await store.commit({ streamId: '$checkpoint-p', expectedVersion: 'any', event: { type: 'Checkpoint', data: { position: 0 } }, keep: 2 });
      }
    }
    const last = store.db.prepare('SELECT max(position) AS p FROM events').get() as { p: number };
    await expectExact(
      store,
      path,
      Array.from({ length: last.p + 2 }, (_, i) => i),
    );
    await store.close();
  });

  it('upgrades a store of schema version 1 on open, with exact counts, and answers fast far behind', async () => {
    const path = freshPath();
    writeOldStore(path, 400_000, 97);
    const store = new SqliteEventStore(path);
    expect(store.db.pragma('user_version', { simple: true })).toBe(2);
    await expectExact(store, path, [0, 1, 96, 97, 98, 123_456, 399_999, 400_000, 500_000]);
    // Far behind: counting every pending row took about 450 ms here; the seeks take well under 1 ms.
    const times: number[] = [];
    for (let i = 0; i < 9; i++) {
      const t0 = performance.now();
      await store.pending({ after: 0, types: null });
      await store.pending({ after: 0, types: ['A', 'B', 'C'] });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    expect(times[4], `median of ${times.map((t) => t.toFixed(2)).join(', ')} ms`).toBeLessThan(10);
    // New events after the upgrade carry on the ordinals.
    await store.append('late', [{ type: 'A' }, { type: 'Z' }]);
    await expectExact(store, path, [0, 399_999, 400_000, 400_001]);
    await store.close();
  });

  it('leaves an upgrade another process holds the write lock for as busy (exit 75), not as a broken store', () => {
    const path = freshPath();
    writeOldStore(path, 1000);
    const holder = new Sqlite(path);
    holder.exec('BEGIN IMMEDIATE');
    try {
      let error: unknown;
      try {
        new SqliteEventStore(path, { busyTimeoutMs: 50 });
      } catch (caught) {
        error = caught;
      }
      // LOCKED is exit 75, as SQLITE_BUSY is: try again later.
      expect(error).toMatchObject({ code: 'LOCKED' });
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    const store = new SqliteEventStore(path);
    expect(store.db.pragma('user_version', { simple: true })).toBe(2);
    return store.close();
  });

  it('counts rows when an older es wrote events without ordinals, and repairs them on the next open', async () => {
    const path = freshPath();
    const store = new SqliteEventStore(path, { create: true });
    await store.append('s', [{ type: 'A' }, { type: 'B' }]);
    // What an es from before ordinals, still running during the upgrade, inserts.
    store.db
      .prepare(
        `INSERT INTO events (id, stream_id, version, type, data, metadata, recorded_at, system)
         VALUES ('old-1', 's', 3, 'A', '{}', '{}', ?, 0)`,
      )
      .run(new Date().toISOString());
    await store.append('s', [{ type: 'A' }, { type: 'C' }]);
    await expectExact(store, path, [0, 1, 2, 3, 4, 5]);
    await store.close();
    const again = new SqliteEventStore(path);
    const nulls = again.db.prepare('SELECT count(*) AS n FROM events WHERE seq IS NULL').get() as { n: number };
    expect(nulls.n).toBe(0);
    await expectExact(again, path, [0, 1, 2, 3, 4, 5]);
    await again.close();
  });

  it('never dates an event before the one it follows, so the first pending event is the oldest', async () => {
    const path = freshPath();
    const store = new SqliteEventStore(path, { create: true });
    await store.append('s', [{ type: 'A' }]);
    // A clock that has run ahead, as before an NTP step back.
    store.db.prepare(`UPDATE events SET recorded_at = '2999-01-01T00:00:00.000Z'`).run();
    await store.append('s', [{ type: 'B' }]);
    const [, second] = await store.read({});
    expect(second!.recordedAt).toBe('2999-01-01T00:00:00.000Z');
    await store.close();
  });
});
