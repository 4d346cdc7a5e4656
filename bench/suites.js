// The suites `npm run bench` runs, in order. Each is a script that takes `--quick` (a small, fast
// run) and writes its own report; `node bench/all.js --only <name,…>` runs some of them.
export const SUITES = [
  { name: 'sqlite', script: 'bench/run.js', report: 'BENCHMARKS.md', what: 'SQLite: rebuild vs a hand-written loop, memory, status, import, appends, follow, Emmett' },
  { name: 'postgres', script: 'bench/postgres.js', report: 'bench/reports/postgres.md', what: 'PostgreSQL: rebuild vs a hand-written pg loop, vs SQLite, vs Emmett; follow latency' },
  { name: 'publish', script: 'bench/publish.js', report: 'bench/reports/publish.md', what: 'Publishing: events/s to NATS JetStream and RabbitMQ with acks vs a hand-written loop with the same client' },
];
