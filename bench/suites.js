// The suites `npm run bench` runs, in order. Each is a script that takes `--quick` (a small, fast
// run) and writes its own report; `node bench/all.js --only <name,…>` runs some of them.
export const SUITES = [
  { name: 'sqlite', script: 'bench/run.js', report: 'BENCHMARKS.md', what: 'SQLite: rebuild vs a hand-written loop, memory, status, import, appends, follow, Emmett' },
  { name: 'postgres', script: 'bench/postgres.js', report: 'bench/reports/postgres.md', what: 'PostgreSQL: rebuild vs a hand-written pg loop, vs SQLite, vs Emmett; follow latency' },
  { name: 'batch', script: 'bench/batch.js', report: 'bench/reports/batch.md', what: 'set-based projections: vs per-event (PostgreSQL, SQLite), vs a set-based pg loop, vs Emmett; memory' },
  { name: 'targets', script: 'bench/targets.js', report: 'bench/reports/targets.md', what: 'Targets: a SQLite log with its read model in PostgreSQL (and in another SQLite file) vs in the log\'s own database' },
];
