import { readdirSync, statSync, type Dirent } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EsError, environment, isEsError } from '../core/errors.js';
import { normalizeProjection, type Projection } from '../core/projection.js';
import { describeLoadError } from './load-errors.js';

/** The module extensions that hold projections; the README's "Projections folder" lists the same rules. */
const EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);
/** Declarations (`x.d.ts`) and tests (`x.test.ts`, `x.spec.mjs`) sit beside projections but are none. */
const NOT_A_PROJECTION = /\.(d|test|spec)\.[^.]+$/;

export const HELPER_HINT = 'a helper module in the projections folder must have a name starting with "_" (e.g. _shared.ts)';

function isProjectionFile(folder: string, entry: Dirent): boolean {
  const name = entry.name;
  if (name.startsWith('.') || name.startsWith('_') || !EXTENSIONS.has(extname(name)) || NOT_A_PROJECTION.test(name)) return false;
  // Subfolders are not searched; a symbolic link counts when it leads to a file.
  return entry.isFile() || (entry.isSymbolicLink() && statSync(join(folder, name), { throwIfNoEntry: false })?.isFile() === true);
}

function unreadable(dir: string, error: unknown): EsError {
  const code = (error as NodeJS.ErrnoException).code;
  const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : ((error as Error).message ?? String(error));
  return environment(`cannot read the projections folder ${dir}: ${why}${code ? ` (${code})` : ''}`, error);
}

/** The projection files in a folder, sorted by name. */
export function projectionFiles(dir: string): string[] {
  const folder = resolve(dir);
  let entries: Dirent[];
  try {
    const stat = statSync(folder, { throwIfNoEntry: false });
    if (!stat?.isDirectory()) {
      throw environment(`projections folder not found: ${dir} (set --projections, ES_PROJECTIONS or "projections" in es.config.json)`);
    }
    entries = readdirSync(folder, { withFileTypes: true });
  } catch (error) {
    throw isEsError(error) ? error : unreadable(dir, error);
  }
  return entries
    .filter((entry) => isProjectionFile(folder, entry))
    .map((entry) => entry.name)
    .sort()
    .map((file) => join(folder, file));
}

type ScopedImport = (specifier: string, parentURL: string) => Promise<unknown>;
let typescriptImport: Promise<ScopedImport> | undefined;

/**
 * tsx compiles TypeScript on the fly, so projection files need no build step. Its loader hooks are
 * registered once, in a namespace of their own, for every TypeScript projection: registering per file
 * costs tens of milliseconds each.
 */
function importTypeScript(): Promise<ScopedImport> {
  typescriptImport ??= Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]).then(([esm, cjs]) => {
    // In a package of "type": "commonjs" (npm init's default), a .ts file is compiled to CommonJS,
    // and its imports of helpers (`./_money.js` for `_money.ts`) go through require: that loader
    // needs tsx's hooks too.
    cjs.register({ namespace: 'es-projections' });
    return esm.register({ namespace: 'es-projections' }).import;
  });
  return typescriptImport;
}

async function importFile(file: string): Promise<unknown> {
  const url = pathToFileURL(file).href;
  if (TYPESCRIPT.has(extname(file))) return (await importTypeScript())(url, import.meta.url);
  return import(url);
}

function defaultExport(module: unknown): unknown {
  const namespace = module as Record<string, unknown>;
  if (!Object.hasOwn(namespace, 'default')) return undefined;
  let value = namespace.default;
  // A CommonJS file compiled from `export default` nests the definition once more.
  if (value && typeof value === 'object' && 'default' in value && !('handlers' in value) && !('batch' in value)) {
    value = (value as { default: unknown }).default;
  }
  return value;
}

export async function loadProjectionFile<Db = unknown>(file: string): Promise<Projection<Db>> {
  let module: unknown;
  try {
    module = await importFile(file);
  } catch (error) {
    throw new EsError('ENVIRONMENT', describeLoadError(file, error), { cause: error });
  }
  const value = defaultExport(module);
  if (value === undefined) throw environment(`${file}: invalid projection: no default export; ${HELPER_HINT}`);
  try {
    return normalizeProjection<Db>(value, file, basename(file, extname(file)));
  } catch (error) {
    // Without handlers, batch or publish it is most likely a helper module, not a projection gone wrong.
    const looksLikeHelper = typeof value !== 'object' || value === null || !('handlers' in value || 'batch' in value || 'publish' in value);
    if (isEsError(error) && looksLikeHelper) throw new EsError(error.code, `${error.message}; ${HELPER_HINT}`, { cause: error });
    throw error;
  }
}

/** Loads every projection in a folder; names must be unique. */
export async function loadProjections<Db = unknown>(dir: string): Promise<Projection<Db>[]> {
  const projections: Projection<Db>[] = [];
  const seen = new Map<string, string>();
  for (const file of projectionFiles(dir)) {
    const projection = await loadProjectionFile<Db>(file);
    const other = seen.get(projection.name);
    if (other) throw environment(`${file}: duplicate projection name "${projection.name}" (also in ${other})`);
    seen.set(projection.name, file);
    projections.push(projection);
  }
  return projections;
}
