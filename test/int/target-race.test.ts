import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { normalizeProjection } from '../../src/core/projection.js';
import type { StoredEvent } from '../../src/core/events.js';
import { applier } from '../../src/engine/apply.js';
import { deliveryFor } from '../../src/engine/delivery/index.js';
import type { EventStore } from '../../src/ports/event-store.js';
import type { Target } from '../../src/ports/target.js';
import { openStore } from '../../src/drivers/open-store.js';
import { openTarget } from '../../src/drivers/open-target.js';
import { describeEach, targetKinds, type KindName } from '../support/backends.js';

// Two processes applying the same batch to one target at once: a holder that lost its lease while
// paused and wakes up mid-batch, beside its successor. Both look up the batch's handled ids before
// either commits, so both find them new. The second's insert of the ids then finds them recorded
// (it waited for the first to commit): its transaction must roll back and find them handled on the
// retry, or its handlers' writes count every event twice.

interface Dialect {
  upsert: string;
  times: string;
}

function raceSuite(fresh: (dir: string) => Promise<{ url: string; drop: () => Promise<void> }>, sql: Dialect): void {
  let dir: string;
  let store: EventStore<unknown>;
  let url: string;
  let drop: () => Promise<void>;
  const targets: Target[] = [];
  let events: StoredEvent[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'es-race-'));
    store = await openStore(`sqlite:${join(dir, 'events.db')}`, { create: true });
    for (let i = 1; i <= 3; i++) await store.append(`s-${i}`, [{ type: 'Added', data: { i } }]);
    events = (await store.readBatch({ after: 0, types: null, limit: 10 })).events as StoredEvent[];
    ({ url, drop } = await fresh(dir));
  });
  afterAll(async () => {
    for (const target of targets) await target.close();
    await store.close();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies each event once when two processes commit the same batch at the same time', async () => {
    const projection = normalizeProjection<unknown>(
      {
        name: 'race',
        events: ['Added'],
        async setup(db: { query: (q: string) => Promise<unknown> }) {
          await db.query('CREATE TABLE IF NOT EXISTS race_tally (event_id VARCHAR(64) PRIMARY KEY, times INT NOT NULL)');
        },
        handlers: {
          async Added(event: StoredEvent, db: { query: (q: string, v: unknown[]) => Promise<unknown> }) {
            await db.query(sql.upsert, [event.id]);
            // Long enough for the other process to look up the same ids before this one commits.
            await new Promise((r) => setTimeout(r, 150));
          },
        },
      },
      'race.mjs',
      'race',
    );
    const deliver = async () => {
      const target = await openTarget(url);
      targets.push(target);
      const delivery = deliveryFor(store, projection, target, (part, sink) => applier(sink, projection, part, 0));
      await delivery.setup();
      return delivery.commit(events, {
        streamId: '$checkpoint-race',
        expectedVersion: 'no-stream',
        event: { type: 'Checkpoint', data: { position: 3, version: 1 } },
        keep: 10,
      });
    };
    const outcomes = await Promise.allSettled([deliver(), deliver()]);
    // One of them appended the checkpoint; the other found the stream written (its expected version).
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const rows = await targets[0]!.withConnection(async (db) => {
      const result = (await (db as { query: (q: string) => Promise<unknown> }).query(sql.times)) as unknown;
      return (Array.isArray(result) && Array.isArray(result[0]) ? result[0] : (result as { rows: unknown[] }).rows) as { times: number }[];
    });
    expect(rows.map((r) => Number(r.times))).toEqual([1, 1, 1]);
  });
}

const DIALECTS: Partial<Record<KindName, Dialect>> = {
  postgres: {
    upsert: 'INSERT INTO race_tally VALUES ($1, 1) ON CONFLICT (event_id) DO UPDATE SET times = race_tally.times + 1',
    times: 'SELECT times FROM race_tally ORDER BY event_id',
  },
  mariadb: {
    upsert: 'INSERT INTO race_tally VALUES (?, 1) ON DUPLICATE KEY UPDATE times = times + 1',
    times: 'SELECT times FROM race_tally ORDER BY event_id',
  },
};

// Not SQLite: its writers take turns on the file's one write lock, so two deliveries never overlap
// there (and its handlers, synchronous, cannot wait for the other process).
describeEach(targetKinds().filter((k) => k.name !== 'sqlite'))('two processes delivering one batch to a %s target', (kind) => {
  raceSuite((dir) => kind.fresh(dir), DIALECTS[kind.name] as Dialect);
});
