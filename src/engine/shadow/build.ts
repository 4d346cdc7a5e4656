import { randomUUID } from 'node:crypto';
import { EsError } from '../../core/errors.js';
import { chain } from '../../core/maybe.js';
import type { Projection } from '../../core/projection.js';
import type { ProjectionStore, ReadPoint, ResumeToken, ShadowMark, ShadowSlot, ShadowSpace } from '../../ports/event-store.js';
import { CheckpointStream, LIFECYCLE, loadCheckpoint } from '../checkpoints.js';
import { retryTransient } from '../retry.js';
import { runAlone } from '../run/alone.js';
import { Member, type Lane } from '../run/member.js';
import type { RunOptions, RunResult } from '../types.js';
import { copyDelivery } from './delivery.js';
import { SHADOW_EVENTS, copyStream, endsCopy, liveMark } from './stream.js';

/** Where the live projection stands: no copy reads past it, so each of its events is a replay. */
export async function livePoint(store: Pick<ProjectionStore, 'lastEvent'>, name: string): Promise<ReadPoint> {
  const live = await loadCheckpoint(store, name);
  return { after: live.position, resume: live.resume };
}

/**
 * The copy as this build finds it: a copy of another version is dropped and started again, a new
 * one is recorded in its database and its stream, and a stream left behind its mark (a build killed
 * between the two commits) is brought up to it.
 */
async function openCopy(store: ProjectionStore, projection: Projection, space: ShadowSpace, slot: ShadowSlot, options: RunOptions): Promise<ShadowMark> {
  const { name, version } = projection;
  const stream = await CheckpointStream.load(store, projection, options.leases?.get(name)?.fence, copyStream(slot, name));
  let mark = await liveMark(store, space, name, slot);
  if (mark && mark.version !== version) {
    await space.drop();
    await stream.append(store, SHADOW_EVENTS.dropped, {
      position: mark.position,
      id: mark.id,
      reason: `built by version ${mark.version}, the file has ${version}`,
    });
    mark = null;
  }
  if (mark === null) {
    // Whatever a copy left without its mark goes first.
    await space.drop();
    const fresh: ShadowMark = { id: randomUUID(), version, position: 0 };
    await retryTransient(space, () =>
      space.transaction((db) =>
        chain(space.record(db, fresh, null), (recorded) => {
          if (!recorded) throw new EsError('LOCKED', `${name}: another process started a copy in ${space.display} at the same time`);
        }),
      ),
    );
    await stream.append(store, SHADOW_EVENTS.started, { position: 0, id: fresh.id });
    return fresh;
  }
  const { state } = stream;
  if (state.last === undefined || endsCopy(state.last) || state.position !== mark.position) {
    const resume = mark.cursor === undefined ? {} : { resume: mark.cursor as ResumeToken };
    await stream.append(store, LIFECYCLE.checkpoint, { position: mark.position, id: mark.id, ...resume });
  }
  return mark;
}

/**
 * Builds a copy of a projection's read model beside the live one (`rebuild --shadow`, and the copy
 * `verify` compares), from its mark on: with the file's code, every event a replay, nothing
 * published, and never past the live projection's position (`until`), so that the side effects of
 * the events the live version has not handled yet are left to whichever version handles them next.
 * Its lease is `options.leases`' entry for the projection's name (the copy's own, or under promote
 * the live one's). A handler that throws stops it (`faulted`); the next build starts from there.
 */
export async function buildCopy(store: ProjectionStore, projection: Projection, space: ShadowSpace, slot: ShadowSlot, options: RunOptions): Promise<RunResult> {
  const { name } = projection;
  const mark = await openCopy(store, projection, space, slot, options);
  const lane: Lane = {
    streamId: copyStream(slot, name),
    delivery: (makeApply) => copyDelivery(store, projection, space, mark, makeApply),
    until: () => livePoint(store, name),
  };
  const copyOptions: RunOptions = { ...options, onError: 'stop', publishers: undefined, targets: undefined };
  const member = await Member.start(store, projection, copyOptions, lane);
  const result = member instanceof Member ? await runAlone(store, member, copyOptions) : member;
  return { ...result, shadow: true };
}
