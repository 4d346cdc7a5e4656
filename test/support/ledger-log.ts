/**
 * The log the interrupted-runs property tests generate (SQLite and PostgreSQL alike), and what their
 * `ledger` and `credits` read models must hold for it, computed from the log directly.
 */
import fc from 'fast-check';

export const eventArb = fc.record({
  stream: fc.integer({ min: 0, max: 5 }),
  type: fc.constantFrom('A', 'B', 'C', 'D'),
  amount: fc.integer({ min: -100, max: 100 }),
});

export const runArb = fc.record({
  batchSize: fc.integer({ min: 1, max: 25 }),
  stopAfter: fc.integer({ min: 1, max: 5 }),
  /** How many more events of the log are appended before this run starts. */
  add: fc.integer({ min: 0, max: 150 }),
});

export type LogEntry = { stream: number; type: string; amount: number };

export function expectedFromLog(log: readonly LogEntry[]) {
  const sums = new Map<string, { sum: number; n: number }>();
  let creditTotal = 0;
  for (const e of log) {
    const key = `acct-${e.stream}`;
    const entry = sums.get(key) ?? { sum: 0, n: 0 };
    sums.set(key, { sum: entry.sum + e.amount, n: entry.n + 1 });
    if (e.type === 'A') creditTotal += e.amount;
    if (e.type === 'B') creditTotal -= e.amount;
  }
  return {
    totals: [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([stream, v]) => ({ stream, ...v })),
    creditTotal,
    credited: log.filter((e) => e.type === 'A' || e.type === 'B').length,
  };
}
