/**
 * Where set-based projections meet read models in another database: a `batch` projection whose
 * read model is in a SQLite target (the event store in SQLite too), a poison event in its batch,
 * and `context.replaying` after a replay-from.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewStreamEvent, StoredEvent } from '../../src/core/events.js';
import { normalizeProjection, type ProjectionContext } from '../../src/core/projection.js';
import { replayFrom } from '../../src/engine/rebuild.js';
import { runProjection } from '../../src/engine/run/index.js';
import type { EventStore } from '../../src/ports/event-store.js';
import type { Target } from '../../src/ports/target.js';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';
import { openTarget } from '../../src/drivers/open-target.js';

const root = mkdtempSync(join(tmpdir(), 'es-batch-target-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
let store: EventStore<unknown>;
let target: Target;
beforeEach(async () => {
  n += 1;
  store = new SqliteEventStore(join(root, `events-${n}.db`), { create: true }) as EventStore<unknown>;
  target = await openTarget(`sqlite:${join(root, `target-${n}.db`)}`);
});
afterEach(async () => {
  await store.close();
  await target.close();
});

const projection = (poisoned: () => boolean) =>
  normalizeProjection<unknown>(
    {
      version: 1,
      setup(db: Database) {
        db.exec('CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, times INTEGER, replaying INTEGER)');
      },
      reset(db: Database) {
        db.exec('DELETE FROM seen');
      },
      batch(events: readonly StoredEvent[], db: Database, context: ProjectionContext) {
        const up = db.prepare('INSERT INTO seen VALUES (?, 1, ?) ON CONFLICT(id) DO UPDATE SET times = times + 1, replaying = excluded.replaying');
        for (const e of events) {
          if (poisoned() && e.data.poison === true) throw new Error(`poison ${e.id}`);
          up.run(e.id, context.replaying ? 1 : 0);
        }
      },
    },
    'tally.ts',
    'tally',
  );

async function append(count: number, poisonAt = -1): Promise<StoredEvent[]> {
  const events: NewStreamEvent[] = Array.from({ length: count }, (_, i) => ({
    id: `e-${String(i).padStart(4, '0')}`,
    streamId: `s-${i % 5}`,
    type: 'Added',
    data: i === poisonAt ? { i, poison: true } : { i },
  }));
  await store.appendMany(events);
  return store.read({});
}

const rows = async () =>
  target.withConnection((db) => (db as Database).prepare('SELECT id, times, replaying FROM seen ORDER BY id').all()) as Promise<
    { id: string; times: number; replaying: number }[]
  >;

describe('a batch projection with a target', () => {
  it('a poison event with stop: faulted at it, the events before it applied once', async () => {
    const events = await append(300, 137);
    const targets = new Map([['tally', target]]);
    const result = await runProjection(
      store,
      projection(() => true),
      { batchSize: 100, targets },
    );
    expect(result.state).toBe('faulted');
    expect(result.error?.eventId).toBe(events[137]?.id);
    expect(result.to).toBe(events[136]?.position);
    const seen = await rows();
    expect(seen.map((r) => r.id)).toEqual(events.slice(0, 137).map((e) => e.id));
    expect(seen.every((r) => r.times === 1)).toBe(true);
  });

  it('a poison event with skip: dead-lettered, the others applied once', async () => {
    const events = await append(300, 137);
    const targets = new Map([['tally', target]]);
    const result = await runProjection(
      store,
      projection(() => true),
      { batchSize: 100, targets, onError: 'skip' },
    );
    expect(result.state).toBe('up-to-date');
    expect(result.deadLettered).toBe(1);
    expect(result.processed).toBe(299);
    const seen = await rows();
    expect(seen.map((r) => r.id)).toEqual(events.filter((_, i) => i !== 137).map((e) => e.id));
    expect(seen.every((r) => r.times === 1)).toBe(true);
  });

  it('replay-from: the events handed over again are told replaying, the later ones not', async () => {
    const events = await append(200);
    const targets = new Map([['tally', target]]);
    expect(
      (
        await runProjection(
          store,
          projection(() => false),
          { batchSize: 64, targets },
        )
      ).state,
    ).toBe('up-to-date');
    const from = (events[50] as StoredEvent).position;
    await store.appendMany([{ id: 'late', streamId: 's-0', type: 'Added', data: {} }]);
    const again = await replayFrom(
      store,
      projection(() => false),
      from,
      { batchSize: 64, targets },
    );
    expect(again.state).toBe('up-to-date');
    const seen = new Map((await rows()).map((r) => [r.id, r]));
    for (const [i, e] of events.entries()) {
      expect(seen.get(e.id)).toEqual({ id: e.id, times: i >= 50 ? 2 : 1, replaying: i >= 50 ? 1 : 0 });
    }
    expect(seen.get('late')).toEqual({ id: 'late', times: 1, replaying: 0 });
  });
});
