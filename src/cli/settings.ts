import { isUtf8 } from 'node:buffer';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { environment } from '../core/errors.js';
import { isJsonObject } from '../core/events.js';
import { parseStoreUrl } from '../drivers/location.js';
import { DEFAULT_BATCH_SIZE } from '../engine/types.js';

export { DEFAULT_BATCH_SIZE };

export const DEFAULT_DB = 'sqlite:.es/events.db';
export const DEFAULT_PROJECTIONS = './projections';

export interface GlobalFlags {
  db?: string;
  projections?: string;
  config?: string;
  quiet?: boolean;
  verbose?: boolean;
}

export type OnError = 'stop' | 'skip';

/** Options that can also be set for one projection, under `projectionOptions.<name>`. */
export interface ProjectionOptions {
  batchSize?: number;
  onError?: OnError;
  /** The read model's database, instead of the projection file's `target` (one file, one database per environment). */
  target?: string;
}

export interface Settings {
  db: string;
  projections: string;
  batchSize: number;
  onError: OnError;
  projectionOptions: Record<string, ProjectionOptions>;
  /** The configuration file that set `projectionOptions`, to name it in errors. */
  configPath?: string;
}

interface ConfigFile extends ProjectionOptions {
  db?: string;
  projections?: string;
  projectionOptions?: Record<string, ProjectionOptions>;
}

type Check = { ok: (value: unknown) => boolean; expected: string };
const nonEmpty: Check = { ok: (v) => typeof v === 'string' && v !== '', expected: 'a non-empty string' };
/** A batch is held in memory whole: past this, memory would follow the log instead of the batch. */
export const MAX_BATCH_SIZE = 100_000;
const batch: Check = {
  ok: (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= MAX_BATCH_SIZE,
  expected: `a whole number from 1 to ${MAX_BATCH_SIZE}`,
};
const onError: Check = { ok: (v) => v === 'stop' || v === 'skip', expected: '"stop" or "skip"' };
const SHARED_KEYS = { batchSize: batch, onError };
const PROJECTION_KEYS: Record<keyof ProjectionOptions, Check> = { ...SHARED_KEYS, target: nonEmpty };
const TOP_KEYS: Record<Exclude<keyof ConfigFile, 'projectionOptions' | 'target'>, Check> = {
  db: nonEmpty,
  projections: nonEmpty,
  ...SHARED_KEYS,
};

function checkKeys(path: string, where: string, object: Record<string, unknown>, keys: Record<string, Check>): void {
  for (const [key, value] of Object.entries(object)) {
    const check = Object.hasOwn(keys, key) ? keys[key] : undefined;
    if (!check) throw environment(`${path}: unknown key "${where}${key}" (known: ${Object.keys(keys).join(', ')})`);
    if (!check.ok(value)) throw environment(`${path}: "${where}${key}" must be ${check.expected}`);
  }
}

function readProjectionOptions(path: string, value: unknown): Record<string, ProjectionOptions> {
  if (!isJsonObject(value)) throw environment(`${path}: "projectionOptions" must be an object keyed by projection name`);
  for (const [name, options] of Object.entries(value)) {
    if (!isJsonObject(options)) throw environment(`${path}: "projectionOptions.${name}" must be an object`);
    checkKeys(path, `projectionOptions.${name}.`, options, PROJECTION_KEYS);
    // A relative SQLite target in a configuration file is taken from the file's folder, like "db".
    const target = (options as ProjectionOptions).target;
    if (target !== undefined && /^sqlite:/i.test(target)) (options as ProjectionOptions).target = rebase(target, dirname(path));
  }
  return value as Record<string, ProjectionOptions>;
}

/** Relative paths in a config file are taken from the file's folder, not the working directory. */
function rebase(value: string, base: string): string {
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length);
    return isAbsolute(path) ? value : `sqlite:${resolve(base, path)}`;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || isAbsolute(value)) return value;
  return resolve(base, value);
}

/** The store named in a configuration file, made absolute from the file's folder; a bad one is exit 3 like any invalid key. */
function rebaseStore(file: string, value: string, base: string): string {
  try {
    const location = parseStoreUrl(value, base);
    if (location.kind === 'postgres') return location.url;
    return /^[a-z]+:/i.test(value) ? `sqlite:${location.path}` : location.path;
  } catch (error) {
    throw environment(`${file}: "db": ${(error as Error).message}`);
  }
}

export function readConfigFile(path: string, required: boolean): ConfigFile {
  if (!existsSync(path)) {
    if (required) throw environment(`configuration file not found: ${path}`);
    return {};
  }
  let parsed: unknown;
  try {
    // Editors on Windows save UTF-8 with a byte order mark, which JSON.parse refuses.
    const bytes = readFileSync(path);
    // Read leniently, a byte that is not UTF-8 would become U+FFFD: a --db of another name.
    if (!isUtf8(bytes)) throw new Error('not valid UTF-8 text');
    parsed = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (error) {
    throw environment(`${path}: invalid JSON: ${(error as Error).message}`);
  }
  if (!isJsonObject(parsed)) throw environment(`${path}: the configuration must be a JSON object`);
  const base = dirname(path);
  const { projectionOptions, ...top } = parsed;
  checkKeys(path, '', top, { ...TOP_KEYS, projectionOptions: nonEmpty });
  const config = top as ConfigFile;
  if (config.db !== undefined) config.db = rebaseStore(path, config.db, base);
  if (config.projections !== undefined) config.projections = rebase(config.projections, base);
  if (projectionOptions !== undefined) config.projectionOptions = readProjectionOptions(path, projectionOptions);
  return config;
}

/** Flags win over the environment, the environment over es.config.json, and that over defaults. */
export function resolveSettings(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Settings {
  const configPath = flags.config ? resolve(cwd, flags.config) : resolve(cwd, 'es.config.json');
  const config = readConfigFile(configPath, flags.config !== undefined);
  return {
    db: flags.db ?? (env.ES_DB || undefined) ?? config.db ?? DEFAULT_DB,
    projections: flags.projections ?? (env.ES_PROJECTIONS || undefined) ?? config.projections ?? DEFAULT_PROJECTIONS,
    batchSize: config.batchSize ?? DEFAULT_BATCH_SIZE,
    onError: config.onError ?? 'stop',
    projectionOptions: config.projectionOptions ?? {},
    ...(config.projectionOptions === undefined ? {} : { configPath }),
  };
}

/**
 * Options for a projection that the folder does not have are most likely a typo, which would silently
 * drop a setting such as `onError: "skip"`: the configuration is invalid (exit 3), naming the name.
 */
export function checkProjectionOptions(settings: Settings, names: readonly string[]): void {
  const known = new Set(names);
  const unknown = Object.keys(settings.projectionOptions).filter((name) => !known.has(name));
  if (unknown.length === 0) return;
  throw environment(
    `${settings.configPath ?? 'es.config.json'}: projectionOptions names no projection in ${settings.projections}: ` +
      `${some(unknown.map((name) => `"${name}"`))} (projections: ${some(names) || 'none'})`,
  );
}

/** A list short enough for one line of a message. */
function some(items: readonly string[], max = 10): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}
