import { parseDuration } from '../../../core/duration.js';
import { EsError, errorMessage, usage } from '../../../core/errors.js';
import { pruneHandled, type PruneResult } from '../../../engine/prune.js';
import type { Context } from '../../context.js';
import { formatCount, plural } from '../../output.js';

export const DEFAULT_OLDER_THAN = '7d';

/**
 * `es project prune-handled [names…] [--older-than 7d]`: the scheduled clean-up of es_handled in
 * each target. Without names, every projection that has a target; a named one without a target is
 * a usage error (it has no handled ids). A target that cannot be reached is exit 3 for that
 * projection, after the others were pruned.
 */
export async function pruneHandledCommand(ctx: Context, names: string[], flags: { olderThan?: string }) {
  const olderThanMs = parseDuration(flags.olderThan ?? DEFAULT_OLDER_THAN, '--older-than');
  const selected = await ctx.select(names);
  const withTarget = selected.filter((p) => ctx.targetOf(p) !== null);
  const without = names.length > 0 ? selected.filter((p) => ctx.targetOf(p) === null) : [];
  if (without.length > 0) {
    throw usage(`${without.map((p) => p.name).join(', ')}: no target, so no handled ids to prune (its read model is in the event store)`);
  }
  const store = await ctx.openStore();
  const { out } = ctx;
  const { targets, failures } = await ctx.openTargets(withTarget);
  const results: (PruneResult & { error: string | null })[] = [];
  for (const projection of withTarget) {
    const target = targets.get(projection.name);
    let failure = failures.get(projection.name);
    if (target) {
      try {
        const result = await pruneHandled(store, projection, target, { olderThanMs });
        results.push({ ...result, error: null });
        out.line(
          `${projection.name}: removed ${formatCount(result.removed)} handled ${result.removed === 1 ? 'id' : 'ids'} ` +
            `(older than ${flags.olderThan ?? DEFAULT_OLDER_THAN}, at or below position ${formatCount(result.checkpoint)})`,
        );
        continue;
      } catch (error) {
        failure = new EsError('ENVIRONMENT', `${projection.name}: cannot prune in ${target.display}: ${errorMessage(error)}`, { cause: error });
      }
    }
    const message = failure?.message ?? `${projection.name}: no target`;
    out.report('error', message, { projection: projection.name });
    results.push({ name: projection.name, removed: 0, checkpoint: 0, before: '', error: message });
  }
  if (withTarget.length === 0) out.line('no projection has a target; nothing to prune');
  if (out.json) out.data({ projections: results });
  else if (results.length > 1) {
    const total = results.reduce((n, r) => n + r.removed, 0);
    out.line(`removed ${plural(total, 'handled id')} in all`);
  }
  if (results.some((r) => r.error !== null)) throw new EsError('ENVIRONMENT', '', { details: { reported: true } });
}
