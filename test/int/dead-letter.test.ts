/** Dead letters (onError skip) and the recovery incident, on every kind of store (see storeKinds). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/events.js';
import { normalizeProjection, type Projection } from '../../src/core/projection.js';
import { runProjection } from '../../src/engine/run/index.js';
import { runProjections as runTogether } from '../../src/engine/run/index.js';
import type { Incident } from '../../src/engine/types.js';
import type { EventStore } from '../../src/ports/event-store.js';
import { storeKinds, type ReadModelSql } from '../support/backends.js';

describe.each(storeKinds())('dead letters on %s', (kind) => {
  let store: EventStore<any>;
  let sql: ReadModelSql;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ store, cleanup } = await kind.open());
    sql = kind.sql(store);
  });
  afterEach(async () => {
    await cleanup();
  });

  /** Counts how often each event was applied; throws on the numbers in `poison`. */
  function counting(name: string, poison: ReadonlySet<number>): Projection<unknown> {
    const table = sql.table(name);
    return normalizeProjection<unknown>(
      {
        name,
        setup: (db: unknown) => sql.exec(db, `CREATE TABLE IF NOT EXISTS ${table} (n INTEGER PRIMARY KEY, times INTEGER)`),
        reset: (db: unknown) => sql.exec(db, `DELETE FROM ${table}`),
        handlers: {
          '*'(event: StoredEvent, db: unknown) {
            const n = event.data.n as number;
            if (poison.has(n)) throw new Error(`poison ${n}`);
            return sql.run(db, `INSERT INTO ${table} AS c VALUES (?, 1) ON CONFLICT (n) DO UPDATE SET times = c.times + 1`, [n]);
          },
        },
      },
      `${name}.ts`,
      name,
    );
  }

  async function appendNumbered(count: number): Promise<StoredEvent[]> {
    for (let n = 1; n <= count; n++) await store.append(`s-${n % 3}`, [{ type: 'E', data: { n } }]);
    await kind.settle(store);
    return store.read({});
  }

  const applied = (name: string) => sql.rows<{ n: number; times: number }>(`SELECT n, times FROM ${sql.table(name)} ORDER BY n`);

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
      expect(await applied('tally')).toEqual(
        events
          .map((e) => e.data.n as number)
          .filter((n) => !poison.has(n))
          .map((n) => ({ n, times: 1 })),
      );
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
      for (const [name, incidents] of [
        ['alone', alone],
        ['shared', shared],
      ] as const) {
        expect(incidents, name).toHaveLength(1);
        expect(incidents[0], name).toMatchObject({ kind: 'recovered', name, fault: { position: events[2]!.position, message: 'poison 3' } });
        expect((incidents[0] as { position: number }).position).toBeGreaterThanOrEqual(events[2]!.position);
      }
    });
  });
});
