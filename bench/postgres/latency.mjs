// `--follow` latency probe on PostgreSQL: each Ping records when its handler ran.
const now = () => performance.timeOrigin + performance.now();

export default {
  name: 'latency',
  version: 1,
  async setup(db) {
    await db.query(`CREATE TABLE IF NOT EXISTS bench_latency (n integer PRIMARY KEY, position bigint NOT NULL,
      appended_at double precision NOT NULL, handled_at double precision NOT NULL)`);
  },
  async reset(db) {
    await db.query('DELETE FROM bench_latency');
  },
  handlers: {
    async Ping(event, db) {
      await db.query('INSERT INTO bench_latency (n, position, appended_at, handled_at) VALUES ($1, $2, $3, $4)', [
        event.data.n,
        event.position,
        event.data.appendedAt,
        now(),
      ]);
    },
  },
};
