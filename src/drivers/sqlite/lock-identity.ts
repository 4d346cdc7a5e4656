import type { Database } from 'better-sqlite3';

/**
 * es_locks records the holder's PID namespace and boot id, so its pid is only checked where it names
 * the same process. Added to stores of any age on open (nullable: a row without them, from an older
 * es, is left to its lease). Re-checked under the write lock: many processes may open at once.
 */
// `token`, the fencing token, grows at every acquisition (0 on rows from before it existed).
const COLUMNS = { pid_ns: 'TEXT', boot_id: 'TEXT', token: 'INTEGER NOT NULL DEFAULT 0' } as const;

function missingColumns(db: Database): (keyof typeof COLUMNS)[] {
  const have = new Set((db.prepare('PRAGMA table_info(es_locks)').all() as { name: string }[]).map((c) => c.name));
  return (Object.keys(COLUMNS) as (keyof typeof COLUMNS)[]).filter((name) => !have.has(name));
}

/** True when es_locks has every column locks need (false on a read-only store that could not be upgraded). */
export function hasLockIdentityColumns(db: Database): boolean {
  return missingColumns(db).length === 0;
}

export function ensureLockIdentityColumns(db: Database): void {
  if (hasLockIdentityColumns(db)) return;
  db.transaction(() => {
    for (const name of missingColumns(db)) db.exec(`ALTER TABLE es_locks ADD COLUMN ${name} ${COLUMNS[name]}`);
  }).immediate();
}
