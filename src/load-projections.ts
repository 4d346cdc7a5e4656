import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EsError, environment, errorMessage } from './core/errors.js';
import { normalizeProjection, type Projection } from './core/projection.js';

const EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs']);

function isProjectionFile(file: string): boolean {
  return EXTENSIONS.has(extname(file)) && !file.endsWith('.d.ts') && !file.startsWith('.') && !file.startsWith('_');
}

/** The projection files in a folder, sorted by name. */
export function projectionFiles(dir: string): string[] {
  const folder = resolve(dir);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw environment(`projections folder not found: ${dir} (set --projections, ES_PROJECTIONS or "projections" in es.config.json)`);
  }
  return readdirSync(folder).filter(isProjectionFile).sort().map((file) => join(folder, file));
}

type ScopedImport = (specifier: string, parentURL: string) => Promise<unknown>;
let typescriptImport: Promise<ScopedImport> | undefined;

/**
 * tsx compiles TypeScript on the fly, so projection files need no build step. Its loader hooks are
 * registered once, in a namespace of their own, for every TypeScript projection: registering per file
 * costs tens of milliseconds each.
 */
function importTypeScript(): Promise<ScopedImport> {
  typescriptImport ??= import('tsx/esm/api').then(({ register }) => register({ namespace: 'es-projections' }).import);
  return typescriptImport;
}

async function importFile(file: string): Promise<unknown> {
  const url = pathToFileURL(file).href;
  if (extname(file) === '.ts' || extname(file) === '.mts') return (await importTypeScript())(url, import.meta.url);
  return import(url);
}

function defaultExport(module: unknown): unknown {
  let value = (module as { default?: unknown } | null)?.default ?? module;
  // A CommonJS file compiled from `export default` nests the definition once more.
  if (value && typeof value === 'object' && 'default' in value && !('handlers' in value)) {
    value = (value as { default: unknown }).default;
  }
  return value;
}

export async function loadProjectionFile<Db = unknown>(file: string): Promise<Projection<Db>> {
  let module: unknown;
  try {
    module = await importFile(file);
  } catch (error) {
    throw new EsError('ENVIRONMENT', `${file}: cannot load projection: ${errorMessage(error).split('\n')[0]}`, {
      cause: error,
    });
  }
  const fallbackName = basename(file, extname(file));
  return normalizeProjection<Db>(defaultExport(module), file, fallbackName);
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
