import type { StoredEvent } from './events.js';
import { EsError } from './errors.js';
import { parsePublish, type PublishConfig } from './publish.js';

/** The third argument of every handler and of `batch`. */
export interface ProjectionContext {
  /**
   * True while the events are handled again after `rebuild` or `replay-from` (their positions are at
   * or below the highest the projection had reached before): side effects outside the read model
   * (mail, webhooks) should not be repeated.
   */
  readonly replaying: boolean;
}

export type Handler<Db> = (event: StoredEvent, db: Db, context: ProjectionContext) => void | Promise<void>;

/** A set-based projection: the batch's events of its types, in order, written with as few statements as it likes. */
export type BatchHandler<Db> = (events: readonly StoredEvent[], db: Db, context: ProjectionContext) => void | Promise<void>;

/** What a projection file default-exports. */
export interface ProjectionDefinition<Db = unknown> {
  name?: string;
  version?: number;
  events?: readonly string[];
  setup?: (db: Db) => void | Promise<void>;
  reset?: (db: Db) => void | Promise<void>;
  /** Per-event handlers; a projection has either these or `batch`. */
  handlers?: Record<string, Handler<Db>>;
  /** Instead of `handlers`: called once per batch with the batch's events of its types. */
  batch?: BatchHandler<Db>;
  /** The read model's database when it is not the event store's: `sqlite:<path>`, `postgres://…`, `mysql://…`. */
  target?: string;
  /** A broker the events are published to (see the README, "Publishing to a message broker"). */
  publish?: { to: string; subject?: string; exchange?: string; routingKey?: string };
  /** The tables its read model consists of, as its handlers name them: what `rebuild --shadow`, `promote` and `verify` work on. */
  tables?: readonly string[];
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
  /** The handler for a type, or undefined when the projection passes over it (always, for a `batch` one). */
  handlerFor(type: string): Handler<Db> | undefined;
  /** The read model's database URL when it is not the event store's (see src/drivers/); null otherwise. */
  target: string | null;
  /** Set-based projections: the function given as `batch`; null for per-event ones. */
  batch: BatchHandler<Db> | null;
  /** Whether an event of this type is handed to the projection (by a handler or in its batch). */
  handles(type: string): boolean;
  /** Null unless the projection publishes its events to a broker. */
  publish: PublishConfig | null;
  /** The read model's tables (`tables`), for a rebuild beside the live read model; null when it declares none. */
  tables: string[] | null;
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
  optionalFunction(def.setup, 'setup', file);
  const tables = tableList(def.tables, file);
  optionalFunction(def.reset, 'reset', file);
  if (def.target !== undefined && (typeof def.target !== 'string' || def.target.trim() === '')) {
    throw invalid(file, 'target must be a database URL (sqlite:<path>, postgres://…, mysql://…)');
  }
  if (def.handlers !== undefined && def.batch !== undefined) {
    throw invalid(file, 'it defines both handlers and batch; keep one (handlers: one event at a time, batch: a batch at once)');
  }
  let publish: PublishConfig | null = null;
  if (def.publish !== undefined) {
    const parsed = parsePublish(def.publish);
    if (typeof parsed === 'string') throw invalid(file, parsed);
    publish = parsed;
  }
  if (def.batch !== undefined) return { ...batchProjection<Db>(def, file, name, version), publish, tables };
  if (def.handlers === undefined && !publish) {
    throw invalid(file, 'handlers must be an object mapping event types to functions, or batch a function (events, db, context); it defines neither');
  }
  // A publishing projection needs no handlers: without them (and without `events`) it publishes every event.
  const handlers = def.handlers ?? {};
  if (typeof handlers !== 'object' || handlers === null || Array.isArray(handlers)) {
    throw invalid(file, 'handlers must be an object mapping event types to functions');
  }
  const table = handlers as Record<string, unknown>;
  for (const [type, handler] of Object.entries(table)) {
    if (typeof handler !== 'function') throw invalid(file, `the handler for "${type}" is not a function`);
  }
  const keys = Object.keys(table);
  if (keys.length === 0 && !publish) throw invalid(file, 'handlers is empty');

  const wildcard = table[WILDCARD] as Handler<Db> | undefined;
  let types: string[] | null;
  if (def.events !== undefined) {
    const listed = eventList(def.events, file);
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
    reset: (def.reset as Projection<Db>['reset'] | undefined) ?? (publish && keys.length === 0 ? noop : null),
    target: (def.target as string | undefined) ?? null,
    handlerFor,
    batch: null,
    handles: (type) => handlerFor(type) !== undefined,
    publish,
    tables,
  };
  function handlerFor(type: string): Handler<Db> | undefined {
    if (selected !== null && !selected.has(type)) return undefined;
    return Object.hasOwn(table, type) ? (table[type] as Handler<Db>) : wildcard;
  }
}

/** A table name as the read model's databases all take it unquoted: no schema, no quoting games. */
const TABLE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

function tableList(value: unknown, file: string): string[] | null {
  if (value === undefined) return null;
  if (!Array.isArray(value) || value.length === 0 || value.some((t) => typeof t !== 'string' || !TABLE_PATTERN.test(t))) {
    throw invalid(file, `tables must be a non-empty list of table names matching ${TABLE_PATTERN.source}, as the handlers write them`);
  }
  const lower = value.map((t: string) => t.toLowerCase());
  if (new Set(lower).size !== lower.length) throw invalid(file, 'tables lists a table twice');
  if (lower.some((t) => t.startsWith('es_'))) throw invalid(file, 'tables may not name es_ tables: they belong to es');
  return [...(value as string[])];
}

function eventList(value: unknown, file: string): string[] {
  if (!Array.isArray(value) || value.some((t) => typeof t !== 'string' || t === '')) {
    throw invalid(file, 'events must be a list of event type names');
  }
  return [...new Set(value as string[])];
}

/**
 * A set-based projection. `events` is optional: without it (or with `*` in it) the batch gets every
 * event of the log, as a `*` handler would; listing the types saves reading the others.
 */
function batchProjection<Db>(def: Record<string, unknown>, file: string, name: string, version: number): Projection<Db> {
  if (typeof def.batch !== 'function') throw invalid(file, 'batch must be a function (events, db, context)');
  let types: string[] | null = null;
  if (def.events !== undefined) {
    const listed = eventList(def.events, file);
    if (listed.length === 0) throw invalid(file, 'events is empty: the batch would never be called');
    types = listed.includes(WILDCARD) ? null : listed;
  }
  const selected = types === null ? null : new Set(types);
  return {
    name,
    version,
    types,
    file,
    setup: (def.setup as Projection<Db>['setup'] | undefined) ?? ((): void => {}),
    reset: (def.reset as Projection<Db>['reset'] | undefined) ?? null,
    target: (def.target as string | undefined) ?? null,
    handlerFor: () => undefined,
    batch: def.batch as BatchHandler<Db>,
    handles: (type) => selected === null || selected.has(type),
    publish: null,
    tables: null,
  };
}
