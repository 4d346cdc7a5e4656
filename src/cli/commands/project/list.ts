import { relative } from 'node:path';
import { describePublish } from '../../../core/publish.js';
import type { Context } from '../../context.js';

export async function list(ctx: Context) {
  const projections = await ctx.projections();
  const rows = projections.map((p) => ({
    name: p.name,
    version: p.version,
    events: p.types ?? ['*'],
    file: relative(process.cwd(), p.file) || p.file,
    // The broker's URL without its password.
    publish: p.publish ? describePublish(p.publish) : null,
  }));
  if (ctx.out.json) return ctx.out.data({ projections: rows });
  if (rows.length === 0) return ctx.out.line(`no projections in ${ctx.settings.projections}`);
  // The column only when a projection publishes, so other folders list as before.
  const publishing = rows.some((r) => r.publish !== null);
  ctx.out.table(
    ['NAME', 'VERSION', 'EVENTS', 'FILE', ...(publishing ? ['PUBLISH'] : [])],
    rows.map((r) => [r.name, String(r.version), r.events.join(', '), r.file, ...(publishing ? [r.publish ?? '-'] : [])]),
  );
}
