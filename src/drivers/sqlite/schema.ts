import type { Database } from 'better-sqlite3';
import { environment } from '../../core/errors.js';
import { isReadOnly } from './errors.js';
import { ensureOrdinals, ORDINALS_SCHEMA_VERSION } from './ordinals.js';
import { ensureLockIdentityColumns } from './lock-identity.js';

/** Marks a SQLite file as an `es` event store ("es" in ASCII), so a foreign database is recognised. */
export const APPLICATION_ID = 0x6573;
export const SCHEMA_VERSION = ORDINALS_SCHEMA_VERSION;
/** Versions this code opens: 1 is upgraded on open (see ordinals.ts). */
const OPENS_VERSIONS = [1, SCHEMA_VERSION];

// One row per projection being worked on; the holder renews expires_at (ms since the epoch).
const LOCKS_DDL = `
CREATE TABLE IF NOT EXISTS es_locks (
  name       TEXT    PRIMARY KEY,
  owner_id   TEXT    NOT NULL,
  pid        INTEGER NOT NULL,
  host       TEXT    NOT NULL,
  since      TEXT    NOT NULL,
  expires_at INTEGER NOT NULL
);`;

const DDL = `
CREATE TABLE events (
  position    INTEGER PRIMARY KEY AUTOINCREMENT,
  id          TEXT    NOT NULL UNIQUE,
  stream_id   TEXT    NOT NULL,
  version     INTEGER NOT NULL,
  type        TEXT    NOT NULL,
  data        TEXT    NOT NULL,
  metadata    TEXT    NOT NULL,
  recorded_at TEXT    NOT NULL,
  system      INTEGER NOT NULL,
  UNIQUE (stream_id, version)
);
-- "events of these types after P": a covering range scan per type, system streams left out.
CREATE INDEX events_type_position ON events (type, position) WHERE system = 0;
${LOCKS_DDL}
PRAGMA application_id = ${APPLICATION_ID};
PRAGMA user_version = ${SCHEMA_VERSION};
`;

interface Header {
  appId: number;
  version: number;
  /** Objects in sqlite_master: 0 for an empty database. */
  objects: number;
}

function readHeaderNow(db: Database): Header {
  return {
    appId: db.pragma('application_id', { simple: true }) as number,
    version: db.pragma('user_version', { simple: true }) as number,
    objects: (db.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number }).n,
  };
}

/** The header as one snapshot: read apart, another process's creation could fall between the reads. */
function readHeader(db: Database): Header {
  return db.transaction(() => readHeaderNow(db)).deferred();
}

/** Throws unless the database is empty and may be made an event store. */
function refuseForeign(header: Header, path: string, create: boolean): void {
  if (header.appId !== 0 || header.objects > 0) throw environment(`${path}: not an es event store (a different SQLite database)`);
  if (!create) throw environment(`${path}: not an es event store (the database is empty)`);
}

/**
 * Runs an upgrade of an older store's lock table. On a store the process may only read (a backup
 * mounted read-only) it is skipped: reading needs no locks, and taking one says why it cannot.
 */
function upgrade(db: Database, step: (db: Database) => void): void {
  try {
    step(db);
  } catch (error) {
    if (!isReadOnly(error)) throw error;
  }
}

// Processes of `run --follow` sharing the store; a worker is live while expires_at (ms) is ahead.
const WORKERS_DDL = `
CREATE TABLE IF NOT EXISTS es_workers (
  id         TEXT    PRIMARY KEY,
  pid        INTEGER NOT NULL,
  host       TEXT    NOT NULL,
  since      TEXT    NOT NULL,
  expires_at INTEGER NOT NULL
);`;

/** Stores written before workers shared them get the table on first open. */
function ensureWorkersTable(db: Database): void {
  const has = () => db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'es_workers'`).get() !== undefined;
  if (has()) return;
  db.transaction(() => {
    if (!has()) db.exec(WORKERS_DDL);
  }).immediate();
}

/** Stores written before the lock table existed get it on first open. */
function ensureLocksTable(db: Database): void {
  const has = () => db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'es_locks'`).get() !== undefined;
  if (has()) return;
  db.transaction(() => {
    if (!has()) db.exec(LOCKS_DDL);
  }).immediate();
}

/**
 * Creates the schema in an empty database, or checks that an existing one is an event store. Safe
 * when many processes open a new file at once: creation re-checks under the write lock
 * (BEGIN IMMEDIATE), so exactly one creates and the others find its store.
 */
export function ensureSchema(db: Database, path: string, create: boolean): void {
  let header = readHeader(db);
  if (header.appId !== APPLICATION_ID) {
    refuseForeign(header, path, create);
    db.transaction(() => {
      header = readHeaderNow(db);
      if (header.appId === APPLICATION_ID) return;
      refuseForeign(header, path, create);
      db.exec(DDL);
      header = readHeaderNow(db);
    }).immediate();
  }
  if (!OPENS_VERSIONS.includes(header.version)) {
    throw environment(`${path}: event store schema version ${header.version} is not supported (expected ${SCHEMA_VERSION})`);
  }
  upgrade(db, ensureLocksTable);
  upgrade(db, ensureLockIdentityColumns);
  upgrade(db, ensureOrdinals);
  upgrade(db, ensureWorkersTable);
}
