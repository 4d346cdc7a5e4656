import type { EsError } from '../../../../core/errors.js';
import type { Projection } from '../../../../core/projection.js';
import { idleResult } from '../../../../engine/results.js';
import type { Incident } from '../../../../engine/types.js';
import type { Context } from '../../../context.js';
import { trapStopSignals } from '../../../signals.js';
import { exitFor } from './exit.js';
import { follow } from './follow.js';
import { checkFlags, optionsFrom, type WorkFlags } from './options.js';
import { logIncident, printDocument, reportOutcome, type Outcome } from './present.js';
import { runInGroups, type Job } from './run-group.js';

export type { Job } from './run-group.js';
export type { WorkFlags } from './options.js';

/** Runs a job (run, rebuild, replay-from) for each projection, reports, and decides the exit. */
export async function work(ctx: Context, projections: Projection<unknown>[], job: Job, flags: WorkFlags): Promise<void> {
  const checked = checkFlags(flags);
  const store = await ctx.openStore();
  const { out, settings } = ctx;
  // A projection whose read model's database cannot be reached fails alone (exit 3); the others run.
  const { targets, failures: unreachable } = await ctx.openTargets(projections);
  const skipped = projections.filter((p) => unreachable.has(p.name));
  projections = projections.filter((p) => !unreachable.has(p.name));
  // A broker that is down or back is news as it happens.
  const publishers = await ctx.openPublishers(projections, (incident) => logIncident(out, incident));
  const signals = trapStopSignals();
  const optionsFor = optionsFrom(settings, checked, {
    // A cron run counts its dead letters in its summary line; a follower has no end of run to wait for.
    onIncident: (incident: Incident) => {
      if (checked.follow || incident.kind !== 'dead-letter') logIncident(out, incident);
    },
    signal: signals.signal,
    targets,
    publishers,
  });
  const outcomes: Outcome[] = skipped.map((p) => ({ result: idleResult(p.name, 0, 'behind'), failure: unreachable.get(p.name) as EsError }));
  for (const outcome of outcomes) reportOutcome(out, outcome);
  try {
    // After the projections whose target could not be reached: they are still reported (exit 3).
    outcomes.push(
      ...(checked.follow
        ? await follow(out, store, projections, optionsFor, { leaseMs: checked.lock.leaseMs, signal: signals.signal })
        : await runInGroups(out, store, projections, job, optionsFor, signals.signal)),
    );
  } finally {
    signals.release();
  }
  printDocument(out, outcomes);
  exitFor(outcomes, signals.received(), checked.follow);
}
