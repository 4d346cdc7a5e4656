import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/events.js';
import type { Link } from '../../src/brokers/link.js';
import { sendAll } from '../../src/brokers/pipeline.js';

const event = (position: number, streamId: string): StoredEvent => ({
  position,
  id: `e${position}`,
  streamId,
  version: position,
  type: 'T',
  data: {},
  metadata: {},
  recordedAt: '2026-01-01T00:00:00.000Z',
});

/** A link whose acknowledgements the test gives by hand, recording what is in flight. */
function scriptedLink() {
  const pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  const sent: number[] = [];
  let maxPerStream = 0;
  const inFlight = new Map<string, number>();
  const link: Link = {
    usable: true,
    send(e) {
      sent.push(e.position);
      inFlight.set(e.streamId, (inFlight.get(e.streamId) ?? 0) + 1);
      maxPerStream = Math.max(maxPerStream, inFlight.get(e.streamId) as number);
      return new Promise<void>((resolve, reject) => {
        const done = () => inFlight.set(e.streamId, (inFlight.get(e.streamId) as number) - 1);
        pending.set(e.position, { resolve: () => (done(), resolve()), reject: (x) => (done(), reject(x)) });
      });
    },
    close: async () => {},
  };
  const tick = () => new Promise((r) => setImmediate(r));
  return { link, pending, sent, maxPerStream: () => maxPerStream, tick };
}

describe('sendAll', () => {
  it('pipelines across streams but never has two messages of one stream in flight', async () => {
    const s = scriptedLink();
    const events = [event(1, 'a'), event(2, 'a'), event(3, 'b'), event(4, 'c'), event(5, 'a')];
    const done = sendAll(s.link, events, 100);
    await s.tick();
    expect(s.sent).toEqual([1, 3, 4]);
    s.pending.get(1)?.resolve();
    await s.tick();
    expect(s.sent).toEqual([1, 3, 4, 2]);
    for (const p of [3, 4, 2]) s.pending.get(p)?.resolve();
    await s.tick();
    s.pending.get(5)?.resolve();
    expect(await done).toEqual({ acked: 5, error: null, own: false });
    expect(s.maxPerStream()).toBe(1);
  });

  it('N fails while N+1 of another stream is acknowledged: the acknowledged prefix stops before N, nothing more is sent', async () => {
    const s = scriptedLink();
    const events = [event(1, 'a'), event(2, 'b'), event(3, 'c'), event(4, 'b'), event(5, 'd')];
    const done = sendAll(s.link, events, 3);
    await s.tick();
    expect(s.sent).toEqual([1, 2, 3]);
    s.pending.get(1)?.resolve();
    s.pending.get(3)?.resolve();
    await s.tick();
    const refused = new Error('refused');
    s.pending.get(2)?.reject(refused);
    await s.tick();
    // 5 (stream d) went out when 3 was acknowledged; 4 (stream b) waited for 2 and is never sent.
    s.pending.get(5)?.resolve();
    expect(await done).toEqual({ acked: 1, error: refused, own: true });
    expect(s.sent).not.toContain(4);
  });
});
