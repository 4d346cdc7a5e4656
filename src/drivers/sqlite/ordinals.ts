import type { Database } from 'better-sqlite3';

/**
 * Ordinals make "how many events after P" two index seeks instead of a count over every pending row
 * (status must answer as fast 5M events behind as caught up).
 *
 * - `seq`, on every row: how many user (non-system) events there are at or before this position.
 *   System rows repeat the previous row's value, so the row at or before any P tells the count up
 *   to P, whichever kind it is, and trimming checkpoint rows never changes another row's value.
 * - `type_seq`, on user rows: how many user events of this type there are at or before this one.
 *
 * Both are computed by the INSERT itself from the previous row (`ORDINAL_VALUES`), so every writer
 * (append, import, checkpoints) keeps them without extra statements. A row written without them
 * (an es from before schema version 2 still running during the upgrade) leaves NULL, which the next
 * rows carry on (NULL + 1 is NULL) rather than miscount; readers then fall back to counting rows,
 * and the next open repairs the store (`ensureOrdinals`).
 */
export const ORDINALS_SCHEMA_VERSION = 2;

const ADD_COLUMNS = `
ALTER TABLE events ADD COLUMN seq INTEGER;
ALTER TABLE events ADD COLUMN type_seq INTEGER;`;

/**
 * The SQL for the last four values of `INSERT INTO events (…, recorded_at, system, seq, type_seq)`,
 * bound by name: @type, @now (the time now) and @system (0 or 1). `recorded_at` never goes back along
 * positions (a clock stepped back by NTP gives the previous event's time), so the first pending
 * event is also the oldest one, which is what status's lag age needs.
 * An empty log starts at 0; a previous row without an ordinal gives NULL (see above).
 */
export const ORDINAL_VALUES = `
  max(@now, coalesce((SELECT recorded_at FROM events ORDER BY position DESC LIMIT 1), '')),
  @system,
  coalesce((SELECT seq FROM events ORDER BY position DESC LIMIT 1),
           (SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM events))) + (1 - @system),
  CASE WHEN @system = 0 THEN
    coalesce((SELECT type_seq FROM events INDEXED BY events_type_position
              WHERE system = 0 AND type = @type ORDER BY position DESC LIMIT 1),
             (SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM events INDEXED BY events_type_position
                                         WHERE system = 0 AND type = @type))) + 1
  END`;

/** Fills both ordinals for every row from scratch: one pass in position order, one per type. */
const BACKFILL = `
UPDATE events SET seq = o.seq, type_seq = o.type_seq
FROM (SELECT position,
             sum(1 - system) OVER (ORDER BY position) AS seq,
             CASE WHEN system = 0 THEN row_number() OVER (PARTITION BY system, type ORDER BY position) END AS type_seq
      FROM events) AS o
WHERE events.position = o.position;`;

/**
 * Brings a store without ordinals (schema version 1) to version 2: adds and fills them. Also repairs a
 * store whose last row lacks them. One IMMEDIATE transaction: a second process opening the store
 * meanwhile waits for it (up to the busy timeout), then finds the work done. It takes 5 to 20 seconds
 * per million events (measured on a busy 2-core machine), once; on a current store the check is one seek. Keyed on the columns, not on
 * user_version alone, so other schema changes can number their own versions.
 */
export function ensureOrdinals(db: Database): void {
  if (hasOrdinalColumns(db) && !lastRowLacksOrdinals(db)) return;
  db.transaction(() => {
    if (!hasOrdinalColumns(db)) db.exec(ADD_COLUMNS);
    else if (!lastRowLacksOrdinals(db)) return;
    db.exec(BACKFILL);
    const version = db.pragma('user_version', { simple: true }) as number;
    // Marks the store so an es from before ordinals refuses it instead of writing rows without them.
    if (version < ORDINALS_SCHEMA_VERSION) db.pragma(`user_version = ${ORDINALS_SCHEMA_VERSION}`);
  }).immediate();
}

function hasOrdinalColumns(db: Database): boolean {
  return db.prepare(`SELECT 1 FROM pragma_table_info('events') WHERE name = 'seq'`).get() !== undefined;
}

function lastRowLacksOrdinals(db: Database): boolean {
  const row = db.prepare('SELECT seq FROM events ORDER BY position DESC LIMIT 1').get() as { seq: number | null } | undefined;
  return row !== undefined && row.seq === null;
}
