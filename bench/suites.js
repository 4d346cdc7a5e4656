// The suites `npm run bench` runs, in order. Each is a script that takes `--quick` (a small, fast
// run) and writes its own report; `node bench/all.js --only <name,…>` runs some of them.
export const SUITES = [
  { name: 'sqlite', script: 'bench/run.js', report: 'BENCHMARKS.md', what: 'SQLite: rebuild vs a hand-written loop, memory, status, import, appends, follow, Emmett' },
  { name: 'postgres', script: 'bench/postgres.js', report: 'bench/reports/postgres.md', what: 'PostgreSQL: rebuild vs a hand-written pg loop, vs SQLite, vs Emmett; follow latency' },
  { name: 'workers', script: 'bench/workers.js', report: 'bench/reports/workers.md', what: 'Many workers on PostgreSQL: spread and settling, 3 workers vs 1 catching up 12 projections, failover after kill -9 and SIGTERM' },
];
