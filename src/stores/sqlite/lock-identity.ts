import type { Database } from 'better-sqlite3';

/**
 * es_locks records the holder's PID namespace and boot id, so its pid is only checked where it names
 * the same process. Added to stores of any age on open (nullable: a row without them, from an older
 * es, is left to its lease). Re-checked under the write lock: many processes may open at once.
 */
const COLUMNS = { pid_ns: 'TEXT', boot_id: 'TEXT' } as const;

export function ensureLockIdentityColumns(db: Database): void {
  const missing = () => {
    const have = new Set((db.prepare('PRAGMA table_info(es_locks)').all() as { name: string }[]).map((c) => c.name));
    return Object.keys(COLUMNS).filter((name) => !have.has(name)) as (keyof typeof COLUMNS)[];
  };
  if (missing().length === 0) return;
  db.transaction(() => {
    for (const name of missing()) db.exec(`ALTER TABLE es_locks ADD COLUMN ${name} ${COLUMNS[name]}`);
  }).immediate();
}
