import { errorMessage } from '../core/errors.js';
import type { ExpectedVersion } from '../core/events.js';
import type { Projection } from '../core/projection.js';
import type { CommitUnit, EventStore } from '../ports/event-store.js';
import { CHECKPOINT_KEEP, LIFECYCLE, checkpointStream, loadCheckpoint, replayMark, type FaultInfo } from './checkpoint.js';
import { applier } from './apply.js';
import { betweenBatches, retryTransient } from './retry.js';
import { fault, idleResult } from './results.js';
import { runProjection } from './run.js';
import { fenced, isLeaseLoss } from './fences.js';
import type { RunOptions, RunResult } from './types.js';

interface Member<Db> {
  projection: Projection<Db>;
  from: number;
  position: number;
  expected: ExpectedVersion;
  processed: number;
  /** The fault it starts from, until it gets past that event. */
  faultedAt: FaultInfo | null;
  /** The replay mark of its checkpoint (context.replaying), carried until its position passes it. */
  replayingUntil: number;
}

/** The run's signal joined with those of `names` (a projection's lost lease stops its run). */
export function signalOf(options: RunOptions, names: readonly string[]): AbortSignal | undefined {
  const signals = [options.signal, ...names.map((name) => options.signalFor?.(name))].filter((s): s is AbortSignal => s !== undefined);
  return signals.length <= 1 ? signals[0] : AbortSignal.any(signals);
}

/** The options of one projection's own run: its signal joined in. */
export function ownOptions(options: RunOptions, name: string): RunOptions {
  const signal = signalOf(options, [name]);
  return signal ? { ...options, signal } : options;
}

/** A handler failed inside a shared batch; the group hands over to one-by-one runs. */
class GroupFailure extends Error {}

function unionOfTypes(members: readonly Member<unknown>[]): string[] | null {
  const types = new Set<string>();
  for (const { projection } of members) {
    if (projection.types === null) return null;
    for (const type of projection.types) types.add(type);
  }
  return [...types];
}

/**
 * Runs several projections in one pass over the log: each batch is read once, every event goes to
 * the projections whose checkpoint is below it, and all their checkpoints commit in the batch's
 * transaction. On SQLite (synchronous handlers) only; a handler that fails hands every projection
 * still running over to `runProjection`, which records faults and dead letters one by one.
 */
export async function runTogether<Db>(
  store: EventStore<Db>,
  projections: readonly Projection<Db>[],
  options: RunOptions,
): Promise<RunResult[]> {
  // A read model in another database commits apart from the log, and a publishing projection commits
  // only what its broker acknowledged: such projections run on their own.
  const apart = (p: Projection<Db>): boolean => Boolean(options.targets?.has(p.name) || p.publish);
  const alone = projections.filter(apart);
  if (alone.length > 0 && projections.length > 1) {
    const shared = projections.filter((p) => !apart(p));
    const results = shared.length > 0 ? await runTogether(store, shared, options) : [];
    for (const projection of alone) results.push(...(await runTogether(store, [projection], options)));
    return projections.map((p) => results.find((r) => r.name === p.name) as RunResult);
  }
  if (projections.length === 1 || !store.synchronous || alone.length > 0) {
    const results: RunResult[] = [];
    for (const projection of projections) {
      // Stopped before its turn: reported as interrupted where it stands, so every projection asked
      // for has a result.
      if (signalOf(options, [projection.name])?.aborted) {
        const { position } = await loadCheckpoint(store, projection.name);
        results.push(idleResult(projection.name, position, 'behind', { interrupted: true }));
        continue;
      }
      results.push(await runProjection(store, projection, ownOptions(options, projection.name)));
    }
    return results;
  }
  const started = performance.now();
  const results = new Map<string, RunResult>();
  const members: Member<Db>[] = [];
  for (const projection of projections) {
    const checkpoint = await loadCheckpoint(store, projection.name);
    if (checkpoint.version !== null && checkpoint.version !== projection.version) {
      results.set(projection.name, idleResult(projection.name, checkpoint.position, 'stale-version'));
      continue;
    }
    try {
      await projection.setup(store.readModel);
    } catch (error) {
      const failure = fault(`setup failed: ${errorMessage(error)}`);
      results.set(projection.name, idleResult(projection.name, checkpoint.position, 'faulted', { error: failure }));
      continue;
    }
    const expected = checkpoint.streamVersion === 0 ? 'no-stream' : checkpoint.streamVersion;
    members.push({
      projection,
      from: checkpoint.position,
      position: checkpoint.position,
      expected,
      processed: 0,
      faultedAt: checkpoint.fault,
      replayingUntil: checkpoint.replayingUntil,
    });
  }

  const types = unionOfTypes(members as Member<unknown>[]);
  const name = members.map((m) => m.projection.name).join(', ');
  const low = (): number => Math.min(...members.map((m) => m.position));
  let read = 0;
  const total = options.countTotal && members.length > 0 ? (await store.pending(low(), types)).count : null;
  // Each projection carries on alone (a handler failed, or a lease or checkpoint was lost).
  let handOff = false;
  let interrupted = false;

  // One transaction for all: a lease lost by any of them stops the pass.
  const passSignal = signalOf(options, members.map((m) => m.projection.name));
  while (members.length > 0) {
    await betweenBatches(store, passSignal);
    if (passSignal?.aborted) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      // One member's lease was lost: alone, it stops at once and the others go on.
      handOff = true;
      break;
    }
    const after = low();
    const batch = await retryTransient(store, () => store.readBatch({ after, types, limit: options.batchSize }));
    if (batch.scannedTo <= after) break;
    const advancing = members.filter((m) => batch.scannedTo > m.position);
    const handled = new Map<Member<Db>, number>();
    // Each projection's events of this batch: those past its checkpoint that it handles.
    const shares = advancing.map((member) => {
      const mine = batch.events.filter((e) => e.position > member.position && member.projection.handles(e.type));
      return { member, events: mine, apply: applier(store, member.projection, mine, member.replayingUntil) };
    });
    const apply = (db: Db): void => {
      for (const share of shares) {
        if (share.events.length === 0) continue;
        try {
          share.apply(db);
        } catch {
          // A handler or batch failed (or returned a Promise): runProjection finds the event.
          throw new GroupFailure();
        }
        handled.set(share.member, share.events.length);
      }
    };
    const [first, ...rest] = advancing.map((m) => ({
      streamId: checkpointStream(m.projection.name),
      expectedVersion: m.expected,
      event: {
        type: LIFECYCLE.checkpoint,
        data: { position: batch.scannedTo, version: m.projection.version, ...replayMark(m.replayingUntil, batch.scannedTo) },
      },
      keep: CHECKPOINT_KEEP,
    }));
    const unit: CommitUnit<Db> = {
      apply,
      ...(first as NonNullable<typeof first>),
      also: rest,
      ...fenced(options, advancing.map((m) => m.projection.name)),
    };
    try {
      await retryTransient(store, () => {
        handled.clear();
        return store.commit(unit);
      });
    } catch (error) {
      // Rolled back. A handler failed, or a lease was lost (a fenced commit): alone, each finds its own
      // failing event, or (its commit fenced again) says it lost its projection.
      if (!(error instanceof GroupFailure) && !isLeaseLoss(error)) throw error;
      handOff = true;
      break;
    }
    for (const member of advancing) {
      member.position = batch.scannedTo;
      member.expected = (member.expected === 'no-stream' ? 0 : (member.expected as number)) + 1;
      member.processed += handled.get(member) ?? 0;
      const { faultedAt } = member;
      if (faultedAt && member.position >= (faultedAt.position ?? member.position)) {
        options.onIncident?.({ kind: 'recovered', name: member.projection.name, position: member.position, fault: faultedAt });
        member.faultedAt = null;
      }
    }
    read += batch.events.length;
    options.onProgress?.({ name, position: batch.scannedTo, processed: read, total });
  }

  for (const member of members) {
    const { projection } = member;
    if (handOff) {
      // This projection carries on alone from its last committed checkpoint.
      const alone = await runProjection(store, projection, ownOptions(options, projection.name));
      results.set(projection.name, { ...alone, from: member.from, processed: member.processed + alone.processed });
      continue;
    }
    results.set(projection.name, {
      ...idleResult(projection.name, member.from, interrupted ? 'behind' : 'up-to-date', { interrupted }),
      to: member.position,
      processed: member.processed,
      durationMs: Math.round(performance.now() - started),
    });
  }
  return projections.map((p) => results.get(p.name) as RunResult);
}
