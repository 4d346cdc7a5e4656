import type { Projection } from '../../core/projection.js';
import type { ProjectionStore } from '../../ports/event-store.js';
import { fault, loadCheckpoint } from '../checkpoints.js';
import { lostLeaseMessage } from '../lease.js';
import { idleResult } from '../results.js';
import type { RunOptions, RunResult } from '../types.js';
import { runAlone } from './alone.js';
import { Member } from './member.js';
import { runPass } from './pass.js';
import { Together } from './together.js';

/**
 * Runs projections to the head (and on, with `follow`). Those at the same place in the log whose
 * read model is the store's own run in one pass (a cohort): each batch read once, every checkpoint
 * in its transaction. One with a target or a broker commits apart from the others, so it runs alone.
 */
export async function runProjections<Db>(store: ProjectionStore<Db>, projections: readonly Projection<Db>[], options: RunOptions): Promise<RunResult[]> {
  const results = new Map<string, RunResult>();
  const cohorts = new Map<string, Member<Db>[]>();
  for (const projection of projections) {
    const { name } = projection;
    const lease = options.leases?.get(name);
    if (options.signal?.aborted || lease?.signal.aborted) {
      // Stopped before its turn: reported as interrupted where it stands, so every projection asked for has a result.
      const { position } = await loadCheckpoint(store, name);
      const lost = lease?.lost() ? { state: 'locked' as const, error: fault(lostLeaseMessage(name, lease.ranOut())) } : {};
      results.set(name, idleResult(name, position, 'behind', { interrupted: true, ...lost }));
      continue;
    }
    const member = await Member.start(store, projection, options);
    if (!(member instanceof Member)) {
      results.set(name, member);
      continue;
    }
    const apart = options.targets?.has(name) || options.publishers?.has(name);
    const key = apart ? `apart:${name}` : `${member.point.after}/${JSON.stringify(member.point.resume ?? null)}`;
    cohorts.set(key, [...(cohorts.get(key) ?? []), member]);
  }
  for (const cohort of cohorts.values()) {
    for (const result of await runCohort(store as ProjectionStore, cohort as Member[], options)) results.set(result.name, result);
  }
  return projections.map((p) => results.get(p.name) as RunResult);
}

async function runCohort(store: ProjectionStore, cohort: Member[], options: RunOptions): Promise<RunResult[]> {
  if (cohort.length === 1) return [await runAlone(store, cohort[0] as Member, options)];
  const end = await runPass(store, new Together(store, cohort, options), options);
  if (end === 'handoff' || (end === 'interrupted' && !options.signal?.aborted)) {
    // Each carries on alone from its last committed checkpoint (one whose lease was lost stops at once).
    const results: RunResult[] = [];
    for (const member of cohort) results.push(await runAlone(store, member, options));
    return results;
  }
  if (end === 'interrupted') return cohort.map((m) => m.interrupted('behind'));
  if (end === 'caught-up' || end === 'held-back') return cohort.map((m) => m.result(end === 'caught-up' ? 'up-to-date' : 'behind'));
  // A shared pass hands faults and lost leases over; it never ends with one itself.
  throw new Error(`a shared pass ended unexpectedly: ${JSON.stringify(end)}`);
}

/** Catches one projection up (see runProjections). */
export async function runProjection<Db>(store: ProjectionStore<Db>, projection: Projection<Db>, options: RunOptions): Promise<RunResult> {
  return (await runProjections(store, [projection], options))[0] as RunResult;
}
