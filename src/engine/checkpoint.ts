import type { StoredEvent } from '../core/events.js';
import type { Cursor, EventStore } from '../ports/event-store.js';

/** Every event of a checkpoint stream carries `position` and `version`; the last one tells both. */
export const LIFECYCLE = {
  checkpoint: 'Checkpoint',
  faulted: 'Faulted',
  reset: 'RebuildStarted',
  replay: 'ReplayRequested',
} as const;

/** How many events a checkpoint stream keeps; the last one is never removed. */
export const CHECKPOINT_KEEP = 10;

export function checkpointStream(name: string): string {
  return `$checkpoint-${name}`;
}

export function deadLetterStream(name: string): string {
  return `$deadletter-${name}`;
}

export interface FaultInfo {
  message: string;
  position: number | null;
  eventId: string | null;
  type: string | null;
}

export interface CheckpointState {
  /** Last position processed; 0 before the first event. */
  position: number;
  /** Projection version the checkpoint was written by; null when the projection never ran. */
  version: number | null;
  /** Version of the checkpoint stream, for the next append's expected version (0: no stream). */
  streamVersion: number;
  last: StoredEvent | undefined;
  fault: FaultInfo | null;
  /** Stores that read in commit order: where to resume (`data.cursor`); absent, the store starts after `position`. */
  cursor: Cursor | undefined;
  /**
   * Set by `rebuild` and `replay-from`: the highest position the projection had reached before.
   * Events at or below it are handled again (`context.replaying`); 0 when none is.
   */
  replayingUntil: number;
}

/**
 * What a checkpoint event written at `position` carries so that `context.replaying` survives restarts
 * and `kill -9`: the replay's end, until the projection has passed it.
 */
export function replayMark(replayingUntil: number, position: number): { replayingUntil?: number } {
  return replayingUntil > position ? { replayingUntil } : {};
}

function cursorOf(value: unknown): Cursor | undefined {
  const c = value as Partial<Cursor> | null | undefined;
  return c && typeof c.transactionId === 'string' && typeof c.position === 'number'
    ? { transactionId: c.transactionId, position: c.position }
    : undefined;
}

export async function loadCheckpoint(store: EventStore, name: string): Promise<CheckpointState> {
  const last = await store.lastEvent(checkpointStream(name));
  if (!last) return { position: 0, version: null, streamVersion: 0, last, fault: null, cursor: undefined, replayingUntil: 0 };
  const position = typeof last.data.position === 'number' ? last.data.position : 0;
  const version = typeof last.data.version === 'number' ? last.data.version : null;
  const fault = last.type === LIFECYCLE.faulted ? ((last.data.error as FaultInfo | undefined) ?? null) : null;
  const until = last.data.replayingUntil;
  const replayingUntil = typeof until === 'number' && Number.isSafeInteger(until) && until > position ? until : 0;
  return { position, version, streamVersion: last.version, last, fault, cursor: cursorOf(last.data.cursor), replayingUntil };
}
