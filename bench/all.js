// `npm run bench`: every suite of bench/suites.js, one after the other (never two at once: the
// figures are ratios measured side by side, and a second suite running beside would skew them).
// `--only a,b` picks suites; every other argument (`--quick`, …) is passed to each suite.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SUITES } from './suites.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const at = args.indexOf('--only');
const only = at >= 0 ? new Set((args[at + 1] ?? '').split(',').filter(Boolean)) : null;
const passed = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
if (args.includes('--help')) {
  process.stdout.write(
    `usage: npm run bench [-- --only <suite,…>] [-- --quick]\n\nsuites:\n${SUITES.map((s) => `  ${s.name.padEnd(10)} ${s.what}\n             report: ${s.report}; flags: node ${s.script} --help`).join('\n')}\n`,
  );
  process.exit(0);
}
const unknown = only ? [...only].filter((name) => !SUITES.some((s) => s.name === name)) : [];
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown suite(s) ${unknown.join(', ')}; known: ${SUITES.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}
const failed = [];
for (const suite of SUITES) {
  if (only && !only.has(suite.name)) continue;
  process.stderr.write(`\n=== bench suite ${suite.name}: ${suite.what}\n`);
  const started = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, suite.script), ...passed], { stdio: 'inherit', cwd: ROOT });
  const seconds = Math.round((performance.now() - started) / 1000);
  if (r.status !== 0) failed.push(suite.name);
  process.stderr.write(`=== ${suite.name}: ${r.status === 0 ? `done in ${seconds} s` : `FAILED (exit ${r.status ?? r.signal})`}\n`);
}
if (failed.length > 0) {
  process.stderr.write(`bench: suite(s) failed: ${failed.join(', ')}\n`);
  process.exit(1);
}
