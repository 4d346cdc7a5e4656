/**
 * The `daily` benchmark read model on PostgreSQL (events per day and type, the day from the event's
 * `data.at`): one upsert per event, awaited. Its set-based version is bench/postgres-set/daily-set.mjs.
 */
export default {
  name: 'daily',
  version: 1,
  async setup(db) {
    await db.query(`CREATE TABLE IF NOT EXISTS bench_daily (day text NOT NULL, type text NOT NULL, events integer NOT NULL,
      PRIMARY KEY (day, type))`);
  },
  async reset(db) {
    await db.query('DELETE FROM bench_daily');
  },
  handlers: {
    async '*'(event, db) {
      await db.query(
        `INSERT INTO bench_daily (day, type, events) VALUES ($1, $2, 1)
         ON CONFLICT (day, type) DO UPDATE SET events = bench_daily.events + 1`,
        [event.data.at.slice(0, 10), event.type],
      );
    },
  },
};
