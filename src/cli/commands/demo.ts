import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateShop } from '../../demo/shop.js';
import { runTogether } from '../../engine/run-together.js';
import { status } from '../../engine/status.js';
import { loadProjections } from '../../load-projections.js';
import type { Context } from '../context.js';
import { formatCount } from '../output.js';
import { checkProjectionOptions } from '../settings.js';
import { work } from './project/work.js';

/**
 * The example projections shipped with the package, used when the configured folder does not exist.
 * Found from the package root, the first folder up with a package.json: this code runs from src/ in
 * tests and from the bundle in dist/, at different depths.
 */
function bundledProjections(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'projections');
}

export async function demo(ctx: Context) {
  const { out } = ctx;
  // Projections load first: one that fails to load, or a configuration naming one that is not there,
  // stops the demo before it writes anything.
  const own = existsSync(ctx.settings.projections);
  const folder = own ? ctx.settings.projections : bundledProjections();
  const projections = await loadProjections(folder);
  if (own) checkProjectionOptions(ctx.settings, projections.map((p) => p.name));
  const store = await ctx.openStore(true);
  const events = generateShop();
  const written = await store.appendMany(events);
  out.line(
    `wrote the demo shop to ${ctx.settings.db}: ${formatCount(written.appended)} new events` +
      (written.skipped > 0 ? `, ${formatCount(written.skipped)} already there` : ''),
  );
  await work(ctx, projections, runTogether, {});
  const report = await status(store, projections);
  out.line(`head ${formatCount(report.head)}; ${report.projections.map((p) => `${p.name} ${p.state}`).join(', ')}`);
  // Without a projections folder here, the next commands need to be told where the demo's are.
  const quoted = /^[\w./-]+$/.test(folder) ? folder : `'${folder.replace(/'/g, `'\\''`)}'`;
  const where = own ? '' : ` --projections ${quoted}`;
  out.line(`next: es project status${where} · es read --limit 5 · es project rebuild --all${where}`);
}
