import { errorMessage } from '../core/errors.js';
import { chain, guard } from '../core/maybe.js';
import type { Projection } from '../core/projection.js';
import type { Fence, ProjectionStore } from '../ports/event-store.js';
import type { Target } from '../ports/target.js';
import { CheckpointStream, LIFECYCLE, fault, type CheckpointData, type CheckpointState, type FaultInfo } from './checkpoints.js';
import { crashPoint } from './crash-point.js';
import { targetLost } from './delivery/target-lost.js';
import { retryTransient } from './retry.js';
import { completePromote } from './shadow/promote.js';

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

/** Thrown inside a reset's transaction to roll it back and carry the projection's own error. */
export class ResetFailure extends Error {
  constructor(readonly original: unknown) {
    super(errorMessage(original));
  }
}

/** Records the intent, then carries it out; returns the fault when the projection's reset fails. */
export async function startIntent(
  store: ProjectionStore,
  projection: Projection,
  target: Target,
  intent: Intent,
  position: number,
  fence?: Fence,
): Promise<FaultInfo | null> {
  const type = intent.pending === 'reset' ? LIFECYCLE.reset : LIFECYCLE.replay;
  const stream = await CheckpointStream.load(store, projection, fence);
  await stream.append(store, type, { position, ...intent }, { movesBack: true });
  crashPoint('intent-recorded');
  return completeIntent(store, projection, target, fence);
}

/** The target's part of an intent, in one transaction of the target. */
function carryOut(target: Target, projection: Projection, intent: Intent): Promise<unknown> {
  const { name, reset } = projection;
  return retryTransient(target, () =>
    target.transaction((db) => {
      const ids = target.handled(db);
      const marks = target.marks(db);
      return chain(ids.ensure(), () => {
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
}

/** Completes a pending intent, if any (see above). Returns the fault when the reset threw or is missing. */
export async function completeIntent(store: ProjectionStore, projection: Projection, target: Target, fence?: Fence): Promise<FaultInfo | null> {
  // A promote killed between its intent and its checkpoint: finished first (see shadow/promote.ts).
  await completePromote(store, projection, target, fence);
  const stream = await CheckpointStream.load(store, projection, fence);
  const checkpoint = stream.state;
  const intent = pendingIntent(checkpoint);
  if (!intent) return null;
  try {
    await carryOut(target, projection, intent);
  } catch (error) {
    if (!(error instanceof ResetFailure)) throw targetLost(projection.name, target, error);
    const failure = fault(`reset failed: ${errorMessage(error.original)}`);
    // Still pending: the next run tries the reset again before it handles anything.
    await stream.append(store, LIFECYCLE.faulted, { position: checkpoint.position, ...intent, error: failure });
    return failure;
  }
  crashPoint('target-reset');
  const data: CheckpointData = { position: checkpoint.position };
  if (checkpoint.version !== null) data.version = checkpoint.version;
  await stream.append(store, LIFECYCLE.checkpoint, data);
  return null;
}
