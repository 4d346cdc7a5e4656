/**
 * The `daily` benchmark read model on PostgreSQL, set-based: counts per (day, type) summed in memory,
 * one multi-row upsert per batch. The same rows as bench/postgres/daily.mjs.
 */
export default {
  name: 'daily-set',
  version: 1,
  async setup(db) {
    await db.query(`CREATE TABLE IF NOT EXISTS bench_daily_set (day text NOT NULL, type text NOT NULL, events integer NOT NULL,
      PRIMARY KEY (day, type))`);
  },
  async reset(db) {
    await db.query('DELETE FROM bench_daily_set');
  },
  async batch(events, db) {
    const counts = new Map();
    for (const e of events) {
      const key = `${e.data.at.slice(0, 10)}|${e.type}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const keys = [...counts.keys()].map((k) => k.split('|'));
    await db.query(
      `INSERT INTO bench_daily_set AS d (day, type, events) SELECT * FROM unnest($1::text[], $2::text[], $3::int[])
       ON CONFLICT (day, type) DO UPDATE SET events = d.events + excluded.events`,
      [keys.map((k) => k[0]), keys.map((k) => k[1]), [...counts.values()]],
    );
  },
};
