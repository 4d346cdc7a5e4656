import type { Database } from 'better-sqlite3';
import { environment } from '../../core/errors.js';
import { ensureOrdinals, ORDINALS_SCHEMA_VERSION } from './ordinals.js';

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

function pragmaNumber(db: Database, name: string): number {
  return db.pragma(name, { simple: true }) as number;
}

/** Creates the schema in an empty database, or checks that an existing one is an event store. */
export function ensureSchema(db: Database, path: string, create: boolean): void {
  const appId = pragmaNumber(db, 'application_id');
  if (appId === APPLICATION_ID) {
    const version = pragmaNumber(db, 'user_version');
    if (!OPENS_VERSIONS.includes(version)) {
      throw environment(`${path}: event store schema version ${version} is not supported (expected ${SCHEMA_VERSION})`);
    }
    // Stores written before the lock table existed get it on first open.
    const locks = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'es_locks'`).get();
    if (!locks) db.exec(LOCKS_DDL);
    ensureOrdinals(db);
    return;
  }
  const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_master`).get() as { n: number };
  if (appId !== 0 || tables.n > 0) throw environment(`${path}: not an es event store (a different SQLite database)`);
  if (!create) throw environment(`${path}: not an es event store (the database is empty)`);
  db.transaction(() => db.exec(DDL)).immediate();
  ensureOrdinals(db);
}
