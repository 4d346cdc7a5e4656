import { describe, expect, it } from 'vitest';
import { afterBatch } from '../../src/cli/heap.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('afterBatch', () => {
  it('runs a full collection at most once a second, and it frees unreachable objects', async () => {
    let target: object | undefined = { payload: 'x'.repeat(1000) };
    const ref = new WeakRef(target);
    target = undefined;
    await sleep(1050);
    expect(ref.deref()).toBeDefined(); // nothing collected it by itself in the meantime
    await new Promise(setImmediate); // deref() keeps its target alive until the task ends
    expect(afterBatch()).toBe(true);
    expect(ref.deref()).toBeUndefined();
    expect(afterBatch()).toBe(false);
    await sleep(200);
    expect(afterBatch()).toBe(false);
  });
});
