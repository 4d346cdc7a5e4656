import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createPacer, fullCollection } from '../../src/cli/heap.js';

const MB = 2 ** 20;

/** A pacer on a fake clock and heap, whose collections take `costMs` and count themselves. */
function fake({ heapMb = 1, costMs = 5 } = {}) {
  const state = { now: 0, collections: 0 };
  const pace = createPacer({
    collector: () => () => {
      state.collections += 1;
      state.now += costMs;
    },
    now: () => state.now,
    heapUsed: () => heapMb * MB,
  });
  return { state, pace };
}

describe('createPacer', () => {
  it('collects only while events are processed, and at most once a second', () => {
    const { state, pace } = fake();
    state.now = 60_000;
    expect(pace(0)).toBe(false); // idle, however long the process has been up
    expect(pace(1000)).toBe(false); // the first batch starts the clock
    state.now += 999;
    expect(pace(1000)).toBe(false);
    state.now += 1;
    expect(pace(0)).toBe(false);
    expect(pace(1000)).toBe(true);
    expect(state.collections).toBe(1);

    state.now += 999; // a cheap collection (5 ms) still leaves a second between two
    expect(pace(1000)).toBe(false);
    state.now += 1;
    expect(pace(1000)).toBe(true);
  });

  it('waits 100 times the last collection before the next one', () => {
    const { state, pace } = fake({ costMs: 30 });
    pace(1000);
    state.now += 1000;
    expect(pace(1000)).toBe(true);
    state.now += 2999;
    expect(pace(1000)).toBe(false);
    state.now += 1;
    expect(pace(1000)).toBe(true);
  });

  it('before timing one, estimates its cost from the live heap (a large in-memory state waits longer)', () => {
    const { state, pace } = fake({ heapMb: 500 });
    pace(1000);
    state.now += 49_999;
    expect(pace(1000)).toBe(false);
    state.now += 1;
    expect(pace(1000)).toBe(true);
  });

  it('does nothing when no collector is available', () => {
    let asked = 0;
    const state = { now: 0 };
    const pace = createPacer({ collector: () => (asked++, null), now: () => state.now, heapUsed: () => 0 });
    pace(1);
    state.now += 10_000;
    expect(pace(1)).toBe(false);
    expect(pace(1)).toBe(false);
    expect(asked).toBe(1);
  });
});

describe('fullCollection', () => {
  it('frees unreachable objects, and leaves --expose-gc off for new contexts', async () => {
    const collect = fullCollection();
    expect(typeof collect).toBe('function');
    expect(runInNewContext('typeof gc')).toBe('undefined');
    let target: object | undefined = { payload: 'x'.repeat(1000) };
    const ref = new WeakRef(target);
    // eslint-disable-next-line no-useless-assignment -- drops the only strong reference, for the collection to free it
    target = undefined;
    await new Promise(setImmediate);
    expect(ref.deref()).toBeDefined(); // scavenges keep WeakRef targets; only a full collection frees them
    await new Promise(setImmediate); // deref() keeps its target alive until the task ends
    collect!();
    expect(ref.deref()).toBeUndefined();
  });
});
