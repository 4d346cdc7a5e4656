import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/events.js';
import { defineProjection, normalizeProjection } from '../../src/core/projection.js';
import { thrown } from '../support/thrown.js';

const FILE = '/projects/projections/orders.ts';
const noop = (): void => {};
const invalid = (value: unknown, fallback = 'orders') => thrown(() => normalizeProjection(value, FILE, fallback));

function event(type: string): StoredEvent {
  return { position: 1, id: 'e', streamId: 's', version: 1, type, data: {}, metadata: {}, recordedAt: '2026-01-01T00:00:00.000Z' };
}

describe('normalizeProjection: name, version, shape', () => {
  it('takes the name from the definition or the file name, and refuses names outside [a-z0-9][a-z0-9_-]*', () => {
    expect(normalizeProjection({ name: 'order-totals_2', handlers: { A: noop } }, FILE, 'orders').name).toBe('order-totals_2');
    expect(normalizeProjection({ handlers: { A: noop } }, FILE, 'orders')).toMatchObject({
      name: 'orders',
      version: 1,
      file: FILE,
    });
    expect(normalizeProjection({ version: 3, handlers: { A: noop } }, FILE, '9lives')).toMatchObject({
      name: '9lives',
      version: 3,
    });

    for (const name of ['Orders', '-orders', '_orders', 'order totals', 'orders.v2', '', 'ördres', 'a;drop', 42]) {
      const error = invalid({ name, handlers: { A: noop } });
      expect(error, String(name)).toMatchObject({ code: 'ENVIRONMENT' });
      expect((error as Error).message).toContain(FILE);
    }
    expect(invalid({ handlers: { A: noop } }, 'My Orders')).toMatchObject({ code: 'ENVIRONMENT' });
  });

  it('refuses a bad version or a default export that is not an object; defineProjection is the identity', () => {
    for (const version of [0, -1, 1.5, '2', Number.NaN, Infinity]) {
      expect(invalid({ version, handlers: { A: noop } }), String(version)).toMatchObject({ code: 'ENVIRONMENT' });
    }
    for (const value of [undefined, null, 'orders', 42, () => {}]) {
      expect(invalid(value), String(value)).toMatchObject({ code: 'ENVIRONMENT' });
    }
    const definition = { name: 'x', handlers: { A: noop } };
    expect(defineProjection(definition)).toBe(definition);
  });
});

describe('normalizeProjection: handlers and events', () => {
  it('refuses missing, empty or non-function handlers; without `events` handles the keys of handlers', () => {
    const bad: unknown[] = [
      {},
      { handlers: {} },
      { handlers: [noop] },
      { handlers: 'A' },
      { handlers: { A: noop, B: 'not a function' } },
      { handlers: { A: null } },
      { handlers: { A: noop }, setup: 'CREATE TABLE' },
      { handlers: { A: noop }, reset: {} },
    ];
    for (const value of bad) {
      expect(invalid(value), JSON.stringify(value)).toMatchObject({ code: 'ENVIRONMENT' });
    }
    expect((invalid({ handlers: { OrderPlaced: noop, OrderPaid: 1 } }) as Error).message).toContain('OrderPaid');

    const p = normalizeProjection({ handlers: { A: noop, B: noop } }, FILE, 'orders');
    expect(p.types).toEqual(['A', 'B']);
    expect(p.handlerFor('A')).toBe(noop);
    expect(p.handlerFor('C')).toBeUndefined();
    expect(() => p.setup(undefined)).not.toThrow();
    // No default reset: rebuild refuses a projection that cannot empty its read model.
    expect(p.reset).toBeNull();
  });

  it('`*` takes every event no other key names; an `events` list selects types (deduplicated, `*` = all)', () => {
    const placed = (): void => {};
    const rest = (): void => {};
    const wild = normalizeProjection({ handlers: { OrderPlaced: placed, '*': rest } }, FILE, 'orders');
    expect(wild.types).toBeNull();
    expect(wild.handlerFor('OrderPlaced')).toBe(placed);
    expect(wild.handlerFor('Anything')).toBe(rest);

    const listed = normalizeProjection({ events: ['A', 'A'], handlers: { A: placed, B: rest } }, FILE, 'orders');
    expect(listed.types).toEqual(['A']);
    expect(listed.handlerFor('A')).toBe(placed);
    expect(listed.handlerFor('B')).toBeUndefined(); // not listed: passed over

    const all = normalizeProjection({ events: ['*'], handlers: { '*': rest } }, FILE, 'orders');
    expect(all.types).toBeNull();
    expect(all.handlerFor('Whatever')).toBe(rest);

    const viaWildcard = normalizeProjection({ events: ['X', 'Y'], handlers: { '*': rest } }, FILE, 'orders');
    expect(viaWildcard.types).toEqual(['X', 'Y']);
    expect(viaWildcard.handlerFor('Y')).toBe(rest);
    expect(viaWildcard.handlerFor('Z')).toBeUndefined();
  });

  it('refuses an `events` list naming a type with no handler, or that is not a list of names', () => {
    const error = invalid({ events: ['A', 'Missing'], handlers: { A: noop } });
    expect(error).toMatchObject({ code: 'ENVIRONMENT' });
    expect((error as Error).message).toContain('Missing');
    for (const events of ['A', [1], [''], [null], { A: true }]) {
      expect(invalid({ events, handlers: { A: noop } }), JSON.stringify(events)).toMatchObject({ code: 'ENVIRONMENT' });
    }
  });

  it('looks handlers up as own keys only: "toString" and friends never reach Object.prototype', () => {
    const p = normalizeProjection({ handlers: { A: noop } }, FILE, 'orders');
    for (const type of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf']) {
      expect(p.handlerFor(type), type).toBeUndefined();
    }
    const rest = (): void => {};
    const wild = normalizeProjection({ handlers: { '*': rest } }, FILE, 'orders');
    expect(wild.handlerFor('toString')).toBe(rest);
    expect(wild.handlerFor('constructor')).toBe(rest);

    expect(invalid({ events: ['toString'], handlers: { A: noop } })).toMatchObject({ code: 'ENVIRONMENT' });

    const own = (): void => {};
    const withOwn = normalizeProjection({ handlers: { toString: own } }, FILE, 'orders');
    expect(withOwn.types).toEqual(['toString']);
    expect(withOwn.handlerFor('toString')).toBe(own);
    expect(() => withOwn.handlerFor('toString')!(event('toString'), undefined, { replaying: false })).not.toThrow();
  });
});

describe('normalizeProjection: set-based projections (batch)', () => {
  const batch = (): void => {};

  it('refuses both handlers and batch, or neither, naming the file', () => {
    for (const value of [{ handlers: { A: noop }, batch }, { name: 'x' }, { events: ['A'] }]) {
      const error = invalid(value) as Error;
      expect(error).toMatchObject({ code: 'ENVIRONMENT' });
      expect(error.message).toContain(FILE);
    }
    expect((invalid({ handlers: { A: noop }, batch }) as Error).message).toContain('both handlers and batch');
    expect((invalid({}) as Error).message).toContain('it defines neither');
  });

  it('refuses a batch that is not a function, or an empty or malformed events list', () => {
    for (const value of [{ batch: 'INSERT' }, { batch: {} }, { batch, events: [] }, { batch, events: 'A' }, { batch, events: [''] }]) {
      const error = invalid(value) as Error;
      expect(error, JSON.stringify(value)).toMatchObject({ code: 'ENVIRONMENT' });
      expect(error.message).toContain(FILE);
    }
  });

  it('takes every event without `events`, only the listed types with it; has no per-event handler', () => {
    const all = normalizeProjection({ batch }, FILE, 'orders');
    expect(all).toMatchObject({ types: null, batch });
    expect(all.handles('Anything')).toBe(true);
    expect(all.handlerFor('Anything')).toBeUndefined();
    const listed = normalizeProjection({ batch, events: ['A', 'B', 'A'] }, FILE, 'orders');
    expect(listed.types).toEqual(['A', 'B']);
    expect(listed.handles('A')).toBe(true);
    expect(listed.handles('C')).toBe(false);
    expect(normalizeProjection({ batch, events: ['A', '*'] }, FILE, 'orders').types).toBeNull();
    const perEvent = normalizeProjection({ handlers: { A: noop } }, FILE, 'orders');
    expect(perEvent.batch).toBeNull();
    expect(perEvent.handles('A')).toBe(true);
    expect(perEvent.handles('B')).toBe(false);
  });
});

describe('normalizeProjection: tables (rebuild beside the live read model)', () => {
  const handlers = { Added: () => {} };
  it('keeps the declared tables, or null when there are none', () => {
    expect(normalizeProjection({ handlers }, FILE, 'orders').tables).toBeNull();
    expect(normalizeProjection({ handlers, tables: ['orders', 'order_lines'] }, FILE, 'orders').tables).toEqual(['orders', 'order_lines']);
    expect(normalizeProjection({ batch: () => {}, tables: ['report'] }, FILE, 'orders').tables).toEqual(['report']);
  });
  it('refuses an empty list, a name that is not a plain identifier, a table listed twice, or an es_ table', () => {
    for (const tables of [[], 'orders', ['a.b'], ['x y'], [''], [1], ['"t"']])
      expect(invalid({ handlers, tables })).toMatchObject({ code: 'ENVIRONMENT', message: expect.stringMatching(/tables must be a non-empty list/) });
    expect(invalid({ handlers, tables: ['Orders', 'orders'] })).toMatchObject({ message: expect.stringMatching(/twice/) });
    expect(invalid({ handlers, tables: ['es_handled'] })).toMatchObject({ message: expect.stringMatching(/es_ tables/) });
  });
});
