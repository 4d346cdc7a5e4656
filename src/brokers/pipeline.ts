import type { StoredEvent } from '../core/events.js';
import type { Link } from './link.js';

export interface Sent {
  /** Length of the acknowledged prefix: events[0, acked) are all acknowledged. */
  acked: number;
  /** Why the event at `acked` was not acknowledged: its own error, or the first error of the attempt. */
  error: unknown;
  /** True when `error` is the event at `acked`'s own (it was sent and refused). */
  own: boolean;
}

const ACKED = 1;
const FAILED = 2;

/**
 * Sends events pipelined, at most `window` in flight, but never two of one stream at once: an event
 * is sent only after the previous event of its stream was acknowledged. So whatever fails, what the
 * broker holds of each stream is a prefix in version order, and publishing again from the first
 * unacknowledged event (after a retry or a restart) repeats that prefix, never reorders it.
 * After the first failure nothing more is sent; it waits for what is in flight, then reports.
 */
export function sendAll(link: Link, events: readonly StoredEvent[], window: number): Promise<Sent> {
  const n = events.length;
  if (n === 0) return Promise.resolve({ acked: 0, error: null, own: false });
  const state = new Uint8Array(n);
  const errors = new Map<number, unknown>();
  // Streams with a message in flight, and the events of each that wait for it (in order).
  const held = new Map<string, number[]>();
  const ready: number[] = [];
  let next = 0;
  let inFlight = 0;
  let firstError: unknown = null;
  let stopped = false;

  return new Promise((resolve) => {
    const finish = (): void => {
      let acked = 0;
      while (acked < n && state[acked] === ACKED) acked++;
      if (acked === n) return resolve({ acked, error: null, own: false });
      const own = state[acked] === FAILED;
      resolve({ acked, error: own ? errors.get(acked) : firstError, own });
    };
    const send = (i: number): void => {
      const event = events[i] as StoredEvent;
      inFlight++;
      let acknowledged: Promise<void>;
      try {
        acknowledged = link.send(event);
      } catch (error) {
        acknowledged = Promise.reject(error);
      }
      acknowledged.then(
        () => {
          state[i] = ACKED;
          inFlight--;
          const waiting = held.get(event.streamId);
          // The stream stays taken by its next event, so nothing of it can overtake.
          if (waiting && waiting.length > 0) ready.push(waiting.shift() as number);
          else held.delete(event.streamId);
          pump();
        },
        (error: unknown) => {
          state[i] = FAILED;
          errors.set(i, error);
          if (!stopped) firstError = error;
          stopped = true;
          inFlight--;
          pump();
        },
      );
    };
    const pump = (): void => {
      while (!stopped && inFlight < window) {
        const fromReady = ready.shift();
        if (fromReady !== undefined) {
          send(fromReady);
          continue;
        }
        if (next >= n) break;
        const i = next++;
        const stream = (events[i] as StoredEvent).streamId;
        const waiting = held.get(stream);
        if (waiting) {
          waiting.push(i);
          continue;
        }
        held.set(stream, []);
        send(i);
      }
      if (inFlight === 0 && (stopped || (next >= n && ready.length === 0))) finish();
    };
    pump();
  });
}
