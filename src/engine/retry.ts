import { randomUUID } from 'node:crypto';
import { sleep, yieldToEventLoop } from '../core/sleep.js';
import type { AppendResult, CommitUnit, ProjectionStore } from '../ports/event-store.js';

/** How long transient failures are retried: long enough for a database server's restart. */
export const RETRY_WINDOW_MS = 15_000;

/**
 * Retries an operation while the store calls its error transient (busy, locked, a lost
 * connection), with backoff, for about RETRY_WINDOW_MS from the first failure. Bounded in time,
 * not only in attempts: an attempt that fails slowly (a connect or statement timing out) must not
 * stretch the window to minutes.
 */
export async function retryTransient<T>(store: { isTransient(error: unknown): boolean }, work: () => Promise<T>, attempts = 12): Promise<T> {
  let firstFailure: number | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      firstFailure ??= performance.now();
      const late = performance.now() - firstFailure >= RETRY_WINDOW_MS;
      if (attempt >= attempts || late || !store.isTransient(error)) throw error;
      await sleep(Math.min(2000, 25 * 2 ** attempt));
    }
  }
}

/**
 * Between two batch transactions: a synchronous store never leaves the microtask queue, so signals
 * and timers get their turn here; a store with one write lock for all (SQLite) also asks for a short
 * pause after a long transaction, or a writer of another process could wait through many batches.
 */
export async function betweenBatches(store: Pick<ProjectionStore, 'writerPauseMs'>, signal?: AbortSignal): Promise<void> {
  const pauseMs = store.writerPauseMs();
  await (pauseMs > 0 && !signal?.aborted ? sleep(pauseMs, signal) : yieldToEventLoop());
}

/**
 * Commits a unit, retrying transient failures. The event keeps one id over every attempt: a
 * connection lost during COMMIT leaves its outcome unknown, and the retry's conflict then means
 * "committed" exactly when the stream ends with this event.
 */
export async function commitWithRetry<Db>(
  store: Pick<ProjectionStore<Db>, 'commit' | 'isTransient' | 'lastEvent'>,
  unit: CommitUnit<Db>,
): Promise<AppendResult> {
  const id = unit.event.id ?? randomUUID();
  let retried = false;
  try {
    return await retryTransient(store, async () => {
      try {
        return await store.commit({ ...unit, event: { ...unit.event, id } });
      } catch (error) {
        if (store.isTransient(error)) retried = true;
        throw error;
      }
    });
  } catch (error) {
    if (retried && (error as { code?: unknown }).code === 'CONFLICT') {
      const last = await store.lastEvent(unit.streamId);
      if (last?.id === id) return { position: last.position, version: last.version };
    }
    throw error;
  }
}
