import { usage } from '../../../core/errors.js';
import { parseWholeNumber } from '../../../core/duration.js';
import { rebuildProjections, replayFrom } from '../../../engine/rebuild.js';
import { runTogether } from '../../../engine/run-together.js';
import type { Context } from '../../context.js';
import { work, type Job, type WorkFlags } from './work.js';

export async function run(ctx: Context, names: string[], flags: WorkFlags) {
  const projections = await ctx.select(names);
  await work(ctx, projections, runTogether, flags);
}

export async function rebuild(ctx: Context, names: string[], { all, ...flags }: WorkFlags & { all?: boolean }) {
  if (names.length === 0 && !all) throw usage('name the projections to rebuild, or pass --all');
  if (names.length > 0 && all) throw usage('give projection names or --all, not both');
  const projections = await ctx.select(names);
  await work(ctx, projections, rebuildProjections, { ...flags, follow: false });
}

export async function replay(ctx: Context, name: string, positionText: string, flags: WorkFlags) {
  const position = parseWholeNumber(positionText, 'position');
  const projections = await ctx.select([name]);
  const job: Job = async (store, [projection], options) => [await replayFrom(store, projection!, position, options)];
  await work(ctx, projections, job, {
    ...flags,
    follow: false,
  });
}
