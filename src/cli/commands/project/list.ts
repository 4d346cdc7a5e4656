import { relative } from 'node:path';
import type { Context } from '../../context.js';

export async function list(ctx: Context) {
  const projections = await ctx.projections();
  const rows = projections.map((p) => ({
    name: p.name,
    version: p.version,
    events: p.types ?? ['*'],
    file: relative(process.cwd(), p.file) || p.file,
  }));
  if (ctx.out.json) return ctx.out.data({ projections: rows });
  if (rows.length === 0) return ctx.out.line(`no projections in ${ctx.settings.projections}`);
  ctx.out.table(
    ['NAME', 'VERSION', 'EVENTS', 'FILE'],
    rows.map((r) => [r.name, String(r.version), r.events.join(', '), r.file]),
  );
}
