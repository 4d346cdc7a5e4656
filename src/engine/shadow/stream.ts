import type { StoredEvent } from '../../core/events.js';
import type { ProjectionStore, ShadowMark, ShadowSlot, ShadowSpace } from '../../ports/event-store.js';
import { loadCheckpoint, type CheckpointState } from '../checkpoints.js';

/**
 * A copy of a read model built beside the live one (see ports/shadow.ts) writes its position to a
 * checkpoint stream of its own, of the live stream's format: `$shadow-<name>` for the shadow that
 * `promote` swaps in, `$verify-<name>` for verify's copy. The copy's own database records the same
 * position in the transaction of its writes (its mark): that one decides, and the stream follows it.
 * A promoted or dropped copy's last stream event says so, with the copy's id.
 */
export const SHADOW_EVENTS = {
  started: 'ShadowStarted',
  promoted: 'ShadowPromoted',
  dropped: 'ShadowDropped',
} as const;

export function copyStream(slot: ShadowSlot, name: string): string {
  return `$${slot}-${name}`;
}

/** The lease a copy is built under, apart from the live projection's. */
export function copyLease(slot: ShadowSlot, name: string): string {
  return `${slot}:${name}`;
}

/** The last event says the copy it names is gone (promoted or dropped). */
export function endsCopy(last: StoredEvent | undefined): boolean {
  return last?.type === SHADOW_EVENTS.promoted || last?.type === SHADOW_EVENTS.dropped;
}

/** Where a shadow stands as its stream tells (status): null when there is none. */
export async function loadShadow(store: Pick<ProjectionStore, 'lastEvent'>, name: string, slot: ShadowSlot = 'shadow'): Promise<CheckpointState | null> {
  const state = await loadCheckpoint(store, name, copyStream(slot, name));
  return state.last === undefined || endsCopy(state.last) ? null : state;
}

/**
 * The copy's mark, unless it belongs to a copy its stream says is gone (a promote or drop killed
 * before it cleared the copy's database): that leftover is removed, and there is none.
 */
export async function liveMark(store: Pick<ProjectionStore, 'lastEvent'>, space: ShadowSpace, name: string, slot: ShadowSlot): Promise<ShadowMark | null> {
  const mark = await space.mark();
  if (mark === null) return null;
  const last = await store.lastEvent(copyStream(slot, name));
  if (endsCopy(last) && last?.data.id === mark.id) {
    await space.drop();
    return null;
  }
  return mark;
}
