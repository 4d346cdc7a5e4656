/**
 * The `daily` benchmark read model on SQLite (events per day and type), set-based: a batch of 1,000
 * events falls on a day or two, so it sums them per (day, type) and writes a dozen rows instead of
 * 1,000 upserts. The same rows as bench/projections/daily.mjs.
 */
const TABLE = `CREATE TABLE IF NOT EXISTS bench_daily_set (day TEXT NOT NULL, type TEXT NOT NULL, events INTEGER NOT NULL,
  PRIMARY KEY (day, type))`;
const UPSERT = `INSERT INTO bench_daily_set (day, type, events) VALUES (?, ?, ?)
  ON CONFLICT (day, type) DO UPDATE SET events = events + excluded.events`;

export default {
  name: 'daily-set',
  version: 1,
  setup(db) {
    db.exec(TABLE);
  },
  reset(db) {
    db.exec('DELETE FROM bench_daily_set');
  },
  batch(events, db) {
    const counts = new Map();
    for (const e of events) {
      const key = `${e.recordedAt.slice(0, 10)}|${e.type}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const upsert = db.prepare(UPSERT);
    for (const [key, n] of counts) {
      const [day, type] = key.split('|');
      upsert.run(day, type, n);
    }
  },
};
