import type { StoredEvent } from './events.js';
import { EsError } from './errors.js';
import { parsePublish, type PublishConfig } from './publish.js';

export type Handler<Db> = (event: StoredEvent, db: Db) => void | Promise<void>;

/** What a projection file default-exports. */
export interface ProjectionDefinition<Db = unknown> {
  name?: string;
  version?: number;
  events?: readonly string[];
  setup?: (db: Db) => void | Promise<void>;
  reset?: (db: Db) => void | Promise<void>;
  /** Optional when `publish` is given. */
  handlers?: Record<string, Handler<Db>>;
  /** A broker the events are published to (see the README, "Publishing to a message broker"). */
  publish?: { to: string; subject?: string; exchange?: string; routingKey?: string };
}

/** A definition after validation: every field present, `types` null when it takes every event. */
export interface Projection<Db = unknown> {
  name: string;
  version: number;
  /** Event types fetched from the store; null means all (a `*` handler). */
  types: string[] | null;
  file: string;
  setup: (db: Db) => void | Promise<void>;
  /** Null when the file defines none: `rebuild` then refuses, since it could not empty the read model. */
  reset: ((db: Db) => void | Promise<void>) | null;
  /** The handler for a type, or undefined when the projection passes over it. */
  handlerFor(type: string): Handler<Db> | undefined;
  /** Null unless the projection publishes its events to a broker. */
  publish: PublishConfig | null;
}

export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;
export const WILDCARD = '*';

/** Returns the definition unchanged; it exists for the types. */
export function defineProjection<Db = unknown>(definition: ProjectionDefinition<Db>): ProjectionDefinition<Db> {
  return definition;
}

function invalid(file: string, message: string): EsError {
  return new EsError('ENVIRONMENT', `${file}: invalid projection: ${message}`);
}

function optionalFunction(value: unknown, field: string, file: string): void {
  if (value !== undefined && typeof value !== 'function') throw invalid(file, `${field} must be a function`);
}

/** Checks a loaded definition and fills in the defaults. `fallbackName` is the file name. */
export function normalizeProjection<Db>(value: unknown, file: string, fallbackName: string): Projection<Db> {
  if (typeof value !== 'object' || value === null) throw invalid(file, 'the default export is not an object');
  const def = value as Record<string, unknown>;
  const name = def.name ?? fallbackName;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw invalid(file, `name "${String(name)}" must match ${NAME_PATTERN.source}`);
  }
  const version = def.version ?? 1;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw invalid(file, 'version must be a whole number of at least 1');
  }
  let publish: PublishConfig | null = null;
  if (def.publish !== undefined) {
    const parsed = parsePublish(def.publish);
    if (typeof parsed === 'string') throw invalid(file, parsed);
    publish = parsed;
  }
  // A publishing projection needs no handlers: without them (and without `events`) it publishes every event.
  const handlers = def.handlers ?? (publish ? {} : undefined);
  if (typeof handlers !== 'object' || handlers === null || Array.isArray(handlers)) {
    throw invalid(file, 'handlers must be an object mapping event types to functions');
  }
  const table = handlers as Record<string, unknown>;
  for (const [type, handler] of Object.entries(table)) {
    if (typeof handler !== 'function') throw invalid(file, `the handler for "${type}" is not a function`);
  }
  const keys = Object.keys(table);
  if (keys.length === 0 && !publish) throw invalid(file, 'handlers is empty');
  optionalFunction(def.setup, 'setup', file);
  optionalFunction(def.reset, 'reset', file);

  const wildcard = table[WILDCARD] as Handler<Db> | undefined;
  let types: string[] | null;
  if (def.events !== undefined) {
    if (!Array.isArray(def.events) || def.events.some((t) => typeof t !== 'string' || t === '')) {
      throw invalid(file, 'events must be a list of event type names');
    }
    const listed = [...new Set(def.events as string[])];
    const missing = listed.filter((t) => t !== WILDCARD && !Object.hasOwn(table, t) && wildcard === undefined);
    // A publishing projection publishes every listed type, handled or not.
    if (missing.length > 0 && !publish) throw invalid(file, `no handler for listed event type(s): ${missing.join(', ')}`);
    types = listed.includes(WILDCARD) ? null : listed;
  } else {
    types = wildcard || keys.length === 0 ? null : keys;
  }

  const selected = types === null ? null : new Set(types);
  const noop = (): void => {};
  return {
    name,
    version,
    types,
    file,
    setup: (def.setup as Projection<Db>['setup'] | undefined) ?? noop,
    // Publishing alone keeps no read model: a rebuild has nothing to empty.
    reset: (def.reset as Projection<Db>['reset'] | undefined) ?? (publish && keys.length === 0 ? noop : null),
    handlerFor(type) {
      if (selected !== null && !selected.has(type)) return undefined;
      return Object.hasOwn(table, type) ? (table[type] as Handler<Db>) : wildcard;
    },
    publish,
  };
}
