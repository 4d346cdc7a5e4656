import { relative } from 'node:path';
import { displayTarget } from '../../../drivers/open-target.js';
import { describePublish } from '../../../core/publish.js';
import type { Context } from '../../context.js';

export async function list(ctx: Context) {
  const projections = await ctx.projections();
  const rows = projections.map((p) => {
    const target = ctx.targetOf(p);
    return {
      name: p.name,
      version: p.version,
      events: p.types ?? ['*'],
      file: relative(process.cwd(), p.file) || p.file,
      // Only on projections whose read model is in another database; the password as ***.
      ...(target === null ? {} : { target: displayTarget(target) }),
      // The broker's URL without its password.
      publish: p.publish ? describePublish(p.publish) : null,
      // Only on projections that declare them (they can be rebuilt beside the live read model).
      ...(p.tables === null ? {} : { tables: p.tables }),
    };
  });
  if (ctx.out.json) return ctx.out.data({ projections: rows });
  if (rows.length === 0) return ctx.out.line(`no projections in ${ctx.settings.projections}`);
  // These columns only when a projection has one, so other folders list as before.
  const anyTarget = rows.some((r) => r.target !== undefined);
  const publishing = rows.some((r) => r.publish !== null);
  const declaring = rows.some((r) => r.tables !== undefined);
  ctx.out.table(
    ['NAME', 'VERSION', 'EVENTS', 'FILE', ...(anyTarget ? ['TARGET'] : []), ...(publishing ? ['PUBLISH'] : []), ...(declaring ? ['TABLES'] : [])],
    rows.map((r) => [
      r.name,
      String(r.version),
      r.events.join(', '),
      r.file,
      ...(anyTarget ? [r.target ?? '-'] : []),
      ...(publishing ? [r.publish ?? '-'] : []),
      ...(declaring ? [r.tables?.join(', ') ?? '-'] : []),
    ]),
  );
}
