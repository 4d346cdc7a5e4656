import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/events.js';
import { normalizeProjection, type Projection } from '../../src/core/projection.js';
import { runProjection } from '../../src/engine/run/index.js';
import { runProjections as runTogether } from '../../src/engine/run/index.js';
import type { Incident } from '../../src/engine/types.js';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';

let dir: string;
let store: SqliteEventStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'es-deadletter-'));
  store = new SqliteEventStore(join(dir, 'events.db'), { create: true });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Counts how often each event was applied; throws on the numbers in `poison`. */
function counting(name: string, poison: ReadonlySet<number>): Projection<Database> {
  return normalizeProjection<Database>(
    {
      name,
      setup: (db: Database) => db.exec(`CREATE TABLE IF NOT EXISTS ${name} (n INTEGER PRIMARY KEY, times INTEGER)`),
      reset: (db: Database) => db.exec(`DELETE FROM ${name}`),
      handlers: {
        '*'(event: StoredEvent, db: Database) {
          const n = event.data.n as number;
          if (poison.has(n)) throw new Error(`poison ${n}`);
          db.prepare(`INSERT INTO ${name} VALUES (?, 1) ON CONFLICT (n) DO UPDATE SET times = times + 1`).run(n);
        },
      },
    },
    `${name}.ts`,
    name,
  );
}

async function appendNumbered(count: number): Promise<StoredEvent[]> {
  for (let n = 1; n <= count; n++) await store.append(`s-${n % 3}`, [{ type: 'E', data: { n } }]);
  return store.read({});
}

const applied = (name: string) => store.readModel.prepare(`SELECT n, times FROM ${name} ORDER BY n`).all() as { n: number; times: number }[];

describe('onError skip', () => {
  it('dead-letters each poison event once, in order, and applies every other event once, across batch edges', async () => {
    const events = await appendNumbered(12);
    // Batches of 4: poison first and last in a batch, two in a row across a batch edge.
    const poison = new Set([1, 4, 5, 8, 12]);
    const incidents: Incident[] = [];
    // Counted on the real store: a poison event must not make the run read its batch again.
    let reads = 0;
    const readBatch = store.readBatch.bind(store);
    store.readBatch = (query) => {
      reads += 1;
      return readBatch(query);
    };
    const result = await runProjection(store, counting('tally', poison), {
      batchSize: 4,
      onError: 'skip',
      onIncident: (i) => incidents.push(i),
    });
    expect(result).toMatchObject({ state: 'up-to-date', deadLettered: 5, processed: 7, to: events[11]!.position });
    expect(reads).toBe(4); // three batches, and the read that finds nothing more
    expect(applied('tally')).toEqual(events.map((e) => e.data.n as number).filter((n) => !poison.has(n)).map((n) => ({ n, times: 1 })));
    const letters = await store.read({ streamId: '$deadletter-tally' });
    expect(letters.map((l) => (l.data.event as StoredEvent).data.n)).toEqual([1, 4, 5, 8, 12]);
    expect(incidents.map((i) => [i.kind, 'fault' in i ? i.fault.position : null])).toEqual(
      [1, 4, 5, 8, 12].map((n) => ['dead-letter', events[n - 1]!.position]),
    );
    expect(incidents.every((i) => i.kind === 'dead-letter' && i.stream === '$deadletter-tally')).toBe(true);
  });

  it('tells of a recovery once, when a faulted projection gets past its event (alone or in a shared pass)', async () => {
    const events = await appendNumbered(6);
    for (const name of ['alone', 'shared']) {
      const stopped = await runProjection(store, counting(name, new Set([3])), { batchSize: 10 });
      expect(stopped.state).toBe('faulted');
    }
    const alone: Incident[] = [];
    await runProjection(store, counting('alone', new Set()), { batchSize: 2, onIncident: (i) => alone.push(i) });
    const shared: Incident[] = [];
    await runTogether(store, [counting('shared', new Set()), counting('other', new Set())], {
      batchSize: 2,
      onIncident: (i) => shared.push(i),
    });
    for (const [name, incidents] of [['alone', alone], ['shared', shared]] as const) {
      expect(incidents, name).toHaveLength(1);
      expect(incidents[0], name).toMatchObject({ kind: 'recovered', name, fault: { position: events[2]!.position, message: 'poison 3' } });
      expect((incidents[0] as { position: number }).position).toBeGreaterThanOrEqual(events[2]!.position);
    }
  });
});
