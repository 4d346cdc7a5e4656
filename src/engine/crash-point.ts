/**
 * For tests only: `ES_TEST_CRASH_AT=<step>[:<n>]` kills this process with SIGKILL the n-th time
 * (default: the first) it reaches that step, so a test can crash es between the commits of a
 * read model in another database and of its checkpoint. Unset, this is a no-op.
 *
 * Steps: `target-before-commit` (a batch's writes done, its target transaction still open),
 * `target-committed` (before the checkpoint append), `checkpoint-appended`, `intent-recorded` (a
 * rebuild's or replay's intent appended, the target untouched), `target-reset` (the target emptied,
 * the intent not yet cleared), `promote-intent` (a promote into a target recorded, nothing swapped),
 * `promote-swapped` (its target swapped, the checkpoint not yet appended).
 */
const spec = process.env.ES_TEST_CRASH_AT;
const [step, nth] = spec ? spec.split(':') : [];
let reached = 0;

export function crashPoint(name: string): void {
  if (step !== name) return;
  reached += 1;
  if (reached >= Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}
