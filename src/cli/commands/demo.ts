import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateShop } from '../../demo/shop.js';
import { runProjections } from '../../engine/run/index.js';
import { status } from '../../engine/status.js';
import { loadProjections } from '../../loading/load-projections.js';
import { parseStoreUrl } from '../../drivers/open-store.js';
import { redact } from '../../core/secrets.js';
import type { Context } from '../context.js';
import { formatCount } from '../output.js';
import { checkProjectionOptions } from '../settings.js';
import { work } from './project/work/index.js';

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
  // The shipped projections come in two dialects: SQLite's in the folder, PostgreSQL's (async,
  // `await db.query`) in its postgres/ subfolder, which the loader skips as a subfolder.
  const shipped = bundledProjections();
  const postgres = parseStoreUrl(ctx.settings.db).kind === 'postgres';
  const own = existsSync(ctx.settings.projections) && !(postgres && resolve(ctx.settings.projections) === shipped);
  const folder = own ? ctx.settings.projections : postgres ? join(shipped, 'postgres') : shipped;
  const projections = await loadProjections(folder);
  if (own)
    checkProjectionOptions(
      ctx.settings,
      projections.map((p) => p.name),
    );
  const store = await ctx.openStore(true);
  const events = generateShop();
  const written = await store.appendMany(events);
  out.line(
    `wrote the demo shop to ${redact(ctx.settings.db)}: ${formatCount(written.appended)} new events` +
      (written.skipped > 0 ? `, ${formatCount(written.skipped)} already there` : ''),
  );
  await work(ctx, projections, runProjections, {});
  const report = await status(store, projections);
  out.line(`head ${formatCount(report.head)}; ${report.projections.map((p) => `${p.name} ${p.state}`).join(', ')}`);
  out.line(`next: ${nextCommands(ctx, own ? undefined : shortest(folder))}`);
}

/** A folder as typed from here: relative when it is below the working directory. */
function shortest(folder: string): string {
  const near = relative(process.cwd(), folder);
  return near !== '' && !near.startsWith('..') && !isAbsolute(near) ? near : folder;
}

/** A value as the shell reads it back. */
function quote(value: string): string {
  return /^[\w./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Commands to try next that work as typed here: they repeat the --db, --projections and --config
 * flags given to demo (the environment stays set in the same shell), and name the shipped
 * projections when there is no projections folder here. They start with `npx es`, as the README's
 * do: in a clone or a project that installed the package, `es` is not on PATH, and npx also finds
 * a global install.
 */
function nextCommands(ctx: Context, shippedProjections: string | undefined): string {
  const { db, config } = ctx.flags;
  const projections = shippedProjections ?? ctx.flags.projections;
  // A password is never printed, not even to make a command copyable: it shows as ***.
  const store = [db === undefined ? '' : ` --db ${quote(redact(db))}`, config === undefined ? '' : ` --config ${quote(config)}`].join('');
  const folder = projections === undefined ? '' : ` --projections ${quote(projections)}`;
  return `npx es project status${store}${folder} · npx es read${store} --limit 5 · npx es project rebuild --all${store}${folder}`;
}
