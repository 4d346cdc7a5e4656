/**
 * A publishing projection on every kind of store (see storeKinds), PostgreSQL's commit-order reads
 * and resume tokens included: every event published once, in order, and the checkpoint (with the
 * read-model writes of its handlers) only as far as the broker acknowledged. First through a
 * publisher scripted in the test (given in `publishers`), then to each real broker (brokerKinds).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewStreamEvent, StoredEvent } from '../../src/core/events.js';
import { normalizeProjection, type Projection } from '../../src/core/projection.js';
import { runProjection } from '../../src/engine/run/index.js';
import { runProjection as runFromCode } from '../../src/library.js';
import type { EventStore } from '../../src/ports/event-store.js';
import type { Published, Publisher } from '../../src/ports/publisher.js';
import { brokerKinds, describeEach, storeKinds, type BrokerRig, type ReadModelSql } from '../support/backends.js';
import { checkStreamOrder } from '../support/brokers.js';

/** `count` events over three streams taking turns. */
const log = (count: number): NewStreamEvent[] =>
  Array.from({ length: count }, (_, i) => ({ id: `ev-${i + 1}`, streamId: `acct-${i % 3}`, type: i % 2 ? 'Moved' : 'Opened', data: { i } }));

/**
 * A broker that acknowledges the first `budget` events it is given, then goes away: `publish` waits
 * for the run's signal and says how many of that batch it acknowledged. `refuse` makes that event (by
 * id) the fault of its batch instead.
 */
function scriptedPublisher(options: { budget?: number; refuse?: string; onAway?: () => void } = {}) {
  const published: StoredEvent[] = [];
  let budget = options.budget ?? Number.POSITIVE_INFINITY;
  const publisher: Publisher = {
    async publish(events, signal): Promise<Published> {
      const refused = events.findIndex((e) => e.id === options.refuse);
      const upTo = refused >= 0 ? refused : events.length;
      const acked = Math.min(budget, upTo);
      published.push(...events.slice(0, acked));
      budget -= acked;
      if (acked < upTo) {
        options.onAway?.();
        await new Promise<void>((resolve) => (signal?.aborted ? resolve() : signal?.addEventListener('abort', () => resolve(), { once: true })));
        return { acked };
      }
      if (refused >= 0) return { acked, fault: { index: refused, error: new Error(`the broker refused ${options.refuse}`) } };
      return { acked };
    },
    close: async () => {},
  };
  return { publisher, published };
}

describe.each(storeKinds())('a publishing projection on %s', (kind) => {
  let store: EventStore<any>;
  let sql: ReadModelSql;
  let cleanup: () => Promise<void>;
  let events: StoredEvent[];

  beforeEach(async () => {
    ({ store, cleanup } = await kind.open());
    sql = kind.sql(store);
    await store.appendMany(log(25));
    await kind.settle(store);
    events = await store.read({});
  });
  afterEach(async () => {
    await cleanup();
  });

  /** Publishes every event; its handler records each one it applies (a second time would fault: a primary key). */
  function outbox(): Projection<unknown> {
    const table = sql.table('outbox_applied');
    const record = (event: StoredEvent, db: unknown) => sql.run(db, `INSERT INTO ${table} (position) VALUES (?)`, [event.position]);
    return normalizeProjection<unknown>(
      {
        name: 'outbox',
        publish: { to: 'nats://127.0.0.1:4222', subject: 'events.{type}' },
        setup: (db: unknown) => sql.exec(db, `CREATE TABLE IF NOT EXISTS ${table} (position INTEGER PRIMARY KEY)`),
        handlers: { Opened: record, Moved: record },
      },
      'outbox.mjs',
      'outbox',
    );
  }

  const applied = async () =>
    (await sql.rows<{ position: number }>(`SELECT position FROM ${sql.table('outbox_applied')} ORDER BY position`)).map((r) => r.position);
  const ids = (list: readonly StoredEvent[]) => list.map((e) => e.id);
  const checkpoint = async () => (await store.lastEvent('$checkpoint-outbox'))?.data.position;

  it('publishes every event once, in order, and checkpoints at the head', async () => {
    const { publisher, published } = scriptedPublisher();
    const result = await runProjection(store, outbox(), { batchSize: 7, publishers: new Map([['outbox', publisher]]) });
    expect(result).toMatchObject({ state: 'up-to-date', processed: 25, to: events[24]!.position, error: null });
    expect(ids(published)).toEqual(ids(events));
    expect(await applied()).toEqual(events.map((e) => e.position));
    expect(await checkpoint()).toBe(events[24]!.position);
  });

  it('checkpoints only what the broker acknowledged when it goes away mid-batch; the next run publishes the rest, none twice', async () => {
    const stop = new AbortController();
    // Ten acknowledged: the first batch of 7, then 3 of the second.
    const away = scriptedPublisher({ budget: 10, onAway: () => stop.abort() });
    const first = await runProjection(store, outbox(), { batchSize: 7, signal: stop.signal, publishers: new Map([['outbox', away.publisher]]) });
    expect(first).toMatchObject({ state: 'behind', interrupted: true, processed: 10, to: events[9]!.position, error: null });
    expect(ids(away.published)).toEqual(ids(events.slice(0, 10)));
    expect(await checkpoint()).toBe(events[9]!.position);
    // The handlers' writes went with the checkpoint: the acknowledged events only.
    expect(await applied()).toEqual(events.slice(0, 10).map((e) => e.position));

    const back = scriptedPublisher();
    const second = await runProjection(store, outbox(), { batchSize: 7, publishers: new Map([['outbox', back.publisher]]) });
    expect(second).toMatchObject({ state: 'up-to-date', from: events[9]!.position, processed: 15, error: null });
    expect(ids(back.published)).toEqual(ids(events.slice(10)));
    expect(await applied()).toEqual(events.map((e) => e.position));
    expect(await checkpoint()).toBe(events[24]!.position);
  });

  it('an event the broker refuses faults the projection at it; what came before it is published and checkpointed', async () => {
    const refusing = scriptedPublisher({ refuse: 'ev-12' });
    const result = await runProjection(store, outbox(), { batchSize: 7, publishers: new Map([['outbox', refusing.publisher]]) });
    expect(result).toMatchObject({
      state: 'faulted',
      processed: 11,
      to: events[10]!.position,
      error: { eventId: 'ev-12', message: 'the broker refused ev-12' },
    });
    expect(ids(refusing.published)).toEqual(ids(events.slice(0, 11)));
    expect(await applied()).toEqual(events.slice(0, 11).map((e) => e.position));
    expect(await store.lastEvent('$checkpoint-outbox')).toMatchObject({ type: 'Faulted', data: { position: events[10]!.position } });
  });

  describeEach(brokerKinds())('to %s', (broker) => {
    let rig: BrokerRig;
    beforeEach(async () => {
      rig = await broker.rig();
    });
    afterEach(async () => {
      await rig.drop();
    });

    it("publishes every event in order with es's headers, and checkpoints at the head (the library opens the publisher)", async () => {
      const result = await runFromCode(store, { name: 'outbox', publish: rig.publish() }, { batchSize: 7 });
      expect(result).toMatchObject({ state: 'up-to-date', processed: 25, to: events[24]!.position });
      const got = await rig.messages();
      expect(got.map((m) => m.id)).toEqual(ids(events));
      expect(got.map((m) => m.body)).toEqual(events);
      expect(checkStreamOrder(got).problems).toEqual([]);
      expect(got.map((m) => m.headers['Es-Position'])).toEqual(events.map((e) => String(e.position)));
      expect(await checkpoint()).toBe(events[24]!.position);
    });
  });
});
