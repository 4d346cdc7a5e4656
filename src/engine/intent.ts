import { errorMessage } from '../core/errors.js';
import type { Projection } from '../core/projection.js';
import { handledIds } from '../drivers/handled/index.js';
import { handledMarks } from '../drivers/handled/marks.js';
import type { EventStore } from '../ports/event-store.js';
import type { Target } from '../ports/target.js';
import {
  CHECKPOINT_KEEP,
  LIFECYCLE,
  checkpointStream,
  loadCheckpoint,
  replayMark,
  type CheckpointState,
  type FaultInfo,
} from './checkpoint.js';
import { crashPoint } from './crash-point.js';
import { targetLost } from './target-lost.js';
import { chain, guard } from './maybe.js';
import { fault } from './results.js';
import { commitWithRetry, retryTransient } from './retry.js';
import { fenced } from './fences.js';
import type { RunOptions } from './types.js';

/**
 * A rebuild or replay-from of a projection with a target touches two databases, which cannot
 * commit together. So the checkpoint stream first records what is about to happen (an intent:
 * `data.pending`), then the target is changed in one transaction, then a checkpoint clears the
 * intent. A run that finds an intent still pending (the process was killed in between) does the
 * target's part again, which is idempotent, before anything else; once cleared, a later crash never
 * deletes the ids handled since.
 *
 * - `reset` (RebuildStarted, position 0): the read model emptied by `reset(db)` and every handled
 *   id of the projection forgotten, else the rebuild would skip every event;
 * - `replay` (ReplayRequested, position from-1): the handled ids at or after `from` forgotten, else
 *   the replay would skip them.
 */
export type Intent = { pending: 'reset' } | { pending: 'replay'; from: number };

export function pendingIntent(checkpoint: CheckpointState): Intent | null {
  const data = checkpoint.last?.data;
  if (data?.pending === 'reset') return { pending: 'reset' };
  if (data?.pending === 'replay' && typeof data.from === 'number') return { pending: 'replay', from: data.from };
  return null;
}

/**
 * Appends a lifecycle event. `context.replaying` is carried as rebuild.ts does: an intent moves
 * the position back, so the events up to where the projection had been are replayed; the events
 * after it keep the intent's mark.
 */
async function appendToCheckpoints(
  store: EventStore,
  projection: Projection,
  type: string,
  data: Record<string, unknown> & { position: number },
  movesBack = false,
  options: Pick<RunOptions, 'fenceFor'> = {},
): Promise<void> {
  const checkpoint = await loadCheckpoint(store, projection.name);
  const until = movesBack ? Math.max(checkpoint.position, checkpoint.replayingUntil) : checkpoint.replayingUntil;
  await commitWithRetry(store, {
    ...fenced(options, [projection.name]),
    streamId: checkpointStream(projection.name),
    expectedVersion: checkpoint.streamVersion === 0 ? 'no-stream' : checkpoint.streamVersion,
    event: { type, data: { version: projection.version, ...data, ...replayMark(until, data.position) } },
    keep: CHECKPOINT_KEEP,
  });
}

/** Records the intent, then carries it out; returns the fault when the projection's reset fails. */
export async function startIntent(
  store: EventStore,
  projection: Projection,
  target: Target,
  intent: Intent,
  position: number,
  options: Pick<RunOptions, 'fenceFor'> = {},
): Promise<FaultInfo | null> {
  const type = intent.pending === 'reset' ? LIFECYCLE.reset : LIFECYCLE.replay;
  await appendToCheckpoints(store, projection, type, { position, ...intent }, true, options);
  crashPoint('intent-recorded');
  return completeIntent(store, projection, target, options);
}

class ResetFailure extends Error {
  constructor(readonly original: unknown) {
    super(errorMessage(original));
  }
}

/** Completes a pending intent, if any (see above). Returns the fault when the reset threw or is missing. */
export async function completeIntent(
  store: EventStore,
  projection: Projection,
  target: Target,
  options: Pick<RunOptions, 'fenceFor'> = {},
): Promise<FaultInfo | null> {
  const checkpoint = await loadCheckpoint(store, projection.name);
  const intent = pendingIntent(checkpoint);
  if (!intent) return null;
  const { name, reset } = projection;
  try {
    await retryTransient(target, () =>
      target.transaction((db) => {
        const ids = handledIds(db);
        return chain(ids.ensure(), () => {
          const marks = handledMarks(db);
          if (intent.pending === 'replay') return chain(ids.clear(name, intent.from), () => marks.clear(name, intent.from));
          if (reset === null) throw new ResetFailure(new Error('it defines no reset(db), so its read model cannot be emptied'));
          const emptied = guard(
            () => chain(projection.setup(db), () => reset(db)),
            (error) => (error instanceof ResetFailure ? error : new ResetFailure(error)),
          );
          return chain(emptied, () => chain(ids.clear(name), () => marks.clear(name)));
        });
      }),
    );
  } catch (error) {
    if (!(error instanceof ResetFailure)) throw targetLost(name, target, error);
    const failure = fault(`reset failed: ${errorMessage(error.original)}`);
    // Still pending: the next run tries the reset again before it handles anything.
    await appendToCheckpoints(store, projection, LIFECYCLE.faulted, { position: checkpoint.position, ...intent, error: failure }, false, options);
    return failure;
  }
  crashPoint('target-reset');
  const data: Record<string, unknown> & { position: number } = { position: checkpoint.position };
  if (checkpoint.version !== null) data.version = checkpoint.version;
  await appendToCheckpoints(store, projection, LIFECYCLE.checkpoint, data, false, options);
  return null;
}
