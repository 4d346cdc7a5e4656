import { usage } from '../../../core/errors.js';
import { parseWholeNumber } from '../../../core/duration.js';
import { rebuildProjections, replayFrom } from '../../../engine/rebuild.js';
import { runProjections } from '../../../engine/run/index.js';
import type { Projection } from '../../../core/projection.js';
import type { Context } from '../../context.js';
import { work, type Job, type WorkFlags } from './work/index.js';

export async function run(ctx: Context, names: string[], flags: WorkFlags) {
  const projections = await ctx.select(names);
  await work(ctx, projections, runProjections, flags);
}

/**
 * A rebuild or replay of a publishing projection publishes its events again: its consumers get them
 * twice. Refused unless the user says so, before anything is touched.
 */
function refuseRepublish(projections: readonly Projection<unknown>[], command: string, republish: boolean | undefined): void {
  if (republish) return;
  const publishing = projections.filter((p) => p.publish);
  if (publishing.length === 0) return;
  const which = publishing.map((p) => `${p.name} (publishes to ${p.publish?.display})`).join(', ');
  throw usage(`${command} would publish the events of ${which} again, so its consumers would receive them twice; pass --republish to do it`);
}

export async function rebuild(
  ctx: Context,
  names: string[],
  { all, republish, shadow, ...flags }: WorkFlags & { all?: boolean; republish?: boolean; shadow?: boolean },
) {
  if (names.length === 0 && !all) throw usage('name the projections to rebuild, or pass --all');
  if (names.length > 0 && all) throw usage('give projection names or --all, not both');
  if (flags.follow && !shadow) throw usage('--follow goes with --shadow: a rebuild in place stops at the head (then es project run --follow)');
  const projections = await ctx.select(names);
  // Beside the live read model: nothing is published, nothing live is touched.
  if (shadow) return (await import('./shadow.js')).rebuildShadows(ctx, projections, flags);
  refuseRepublish(projections, 'rebuild', republish);
  await work(ctx, projections, rebuildProjections, { ...flags, follow: false });
}

export async function replay(ctx: Context, name: string, positionText: string, { republish, ...flags }: WorkFlags & { republish?: boolean }) {
  const position = parseWholeNumber(positionText, 'position');
  const projections = await ctx.select([name]);
  refuseRepublish(projections, 'replay-from', republish);
  const job: Job = async (store, [projection], options) => [await replayFrom(store, projection!, position, options)];
  await work(ctx, projections, job, {
    ...flags,
    follow: false,
  });
}
