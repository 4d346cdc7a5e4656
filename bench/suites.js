// The suites `npm run bench` runs, in order. Each is a script that takes `--quick` (a small, fast
// run) and writes its own report; `node bench/all.js --only <name,…>` runs some of them.
export const SUITES = [
  {
    name: 'sqlite',
    script: 'bench/run.js',
    report: 'BENCHMARKS.md',
    what: 'SQLite: rebuild vs a hand-written loop, memory, status, import, appends, follow, Emmett',
  },
  {
    name: 'postgres',
    script: 'bench/postgres.js',
    report: 'bench/reports/postgres.md',
    what: 'PostgreSQL: rebuild vs a hand-written pg loop, vs SQLite, vs Emmett; follow latency',
  },
  {
    name: 'batch',
    script: 'bench/batch.js',
    report: 'bench/reports/batch.md',
    what: 'set-based projections: vs per-event (PostgreSQL, SQLite), vs a set-based pg loop, vs Emmett; memory',
  },
  {
    name: 'targets',
    script: 'bench/targets.js',
    report: 'bench/reports/targets.md',
    what: "Targets: a SQLite log with its read model in PostgreSQL (and in another SQLite file) vs in the log's own database",
  },
  {
    name: 'publish',
    script: 'bench/publish.js',
    report: 'bench/reports/publish.md',
    what: 'Publishing: events/s to NATS JetStream and RabbitMQ with acks vs a hand-written loop with the same client',
  },
  {
    name: 'workers',
    script: 'bench/workers.js',
    report: 'bench/reports/workers.md',
    what: 'Many workers on PostgreSQL: spread and settling, 3 workers vs 1 catching up 12 projections, failover after kill -9 and SIGTERM',
  },
  {
    name: 'shadow',
    script: 'bench/shadow.js',
    report: 'bench/reports/shadow.md',
    what: "Rebuild beside the live read model (SQLite, PostgreSQL): rebuild --shadow vs rebuild, promote and a reader's longest gap, --follow latency during a shadow build, verify",
  },
];
