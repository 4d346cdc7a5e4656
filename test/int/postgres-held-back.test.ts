/**
 * An older transaction still open anywhere in the database keeps events committed after it
 * unreadable on PostgreSQL (reads stop below pg_snapshot_xmin). A run without --follow must not then
 * call the projection up-to-date, and `wait` must not call the head reached: both count what is
 * committed, not what is readable.
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import { normalizeProjection } from '../../src/core/projection.js';
import { runProjection } from '../../src/engine/run/index.js';
import type { Incident } from '../../src/engine/types.js';
import { waitForProjections } from '../../src/engine/wait.js';
import { pgServerUrl, useFreshPgStore } from '../support/pg.js';

const file = useFreshPgStore();

it('a run held back by an older open transaction ends behind and says so; wait does not call it reached', async () => {
  const s = file.fresh.schema;
  const projection = normalizeProjection<pg.ClientBase>(
    {
      name: 'counted',
      async setup(db: pg.ClientBase) {
        await db.query(`CREATE TABLE IF NOT EXISTS "${s}".counted (id text PRIMARY KEY)`);
      },
      handlers: {
        async '*'(event: { id: string }, db: pg.ClientBase) {
          await db.query(`INSERT INTO "${s}".counted VALUES ($1)`, [event.id]);
        },
      },
    },
    'counted.mjs',
    'counted',
  );
  // A transaction with an id of its own, in another schema's business entirely, left open.
  const blocker = new pg.Client({ connectionString: pgServerUrl() });
  await blocker.connect();
  try {
    await blocker.query('BEGIN');
    await blocker.query('SELECT pg_current_xact_id()');
    await file.store.append('order-1', [{ type: 'Placed', data: {} }]);
    await file.store.append('order-2', [{ type: 'Placed', data: {} }]);

    const incidents: Incident[] = [];
    const started = performance.now();
    const held = await runProjection(file.store as never, projection as never, { batchSize: 100, onIncident: (i) => incidents.push(i) });
    expect(held).toMatchObject({ state: 'behind', processed: 0 });
    expect(performance.now() - started).toBeGreaterThan(4000);
    expect(incidents).toEqual([expect.objectContaining({ kind: 'held-back', name: 'counted', pending: 2 })]);

    const waited = await waitForProjections(file.store as never, [projection as never], { timeoutMs: 500, pollMs: 50 });
    expect(waited.outcome).toBe('timed-out');
    expect(waited.projections[0]).toMatchObject({ reached: false });
  } finally {
    await blocker.query('ROLLBACK');
    await blocker.end();
  }
  // Other tests' transactions on a shared server may hold the horizon for a moment too.
  let processed = 0;
  let state = '';
  for (let i = 0; i < 6 && state !== 'up-to-date'; i++) {
    const done = await runProjection(file.store as never, projection as never, { batchSize: 100 });
    processed += done.processed;
    state = done.state;
  }
  expect({ processed, state }).toEqual({ processed: 2, state: 'up-to-date' });
  expect((await waitForProjections(file.store as never, [projection as never], { timeoutMs: 10_000 })).outcome).toBe('reached');
}, 60_000);
