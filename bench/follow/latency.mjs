// `--follow` latency probe: each Ping event records when its handler ran. The bench appends the
// pings and watches this table to see when each one's read-model write became visible.
const now = () => performance.timeOrigin + performance.now();

export default {
  name: 'latency',
  version: 1,
  setup(db) {
    db.exec(`CREATE TABLE IF NOT EXISTS bench_latency (n INTEGER PRIMARY KEY, position INTEGER NOT NULL,
      appended_at REAL NOT NULL, handled_at REAL NOT NULL)`);
  },
  reset(db) {
    db.exec('DELETE FROM bench_latency');
  },
  handlers: {
    Ping(event, db) {
      db.prepare('INSERT INTO bench_latency (n, position, appended_at, handled_at) VALUES (?, ?, ?, ?)').run(
        event.data.n,
        event.position,
        event.data.appendedAt,
        now(),
      );
    },
  },
};
