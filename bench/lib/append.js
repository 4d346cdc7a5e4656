// Append durability: the same library appends with synchronous=FULL (what es does for user events,
// so they are on disk when append() returns) and with NORMAL (what it did before: fast, but an
// acknowledged append could vanish on power loss). Interleaved, fresh store per run, medians.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { median, percentile } from './stats.js';

const MODES = { durable: 'FULL', relaxed: 'NORMAL' };
const PAD = 'x'.repeat(150); // about the size of a real event's data

function removeStore(path) {
  for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
}

async function once(openSqliteStore, path, mode, o) {
  removeStore(path);
  const store = openSqliteStore(path, { create: true });
  try {
    if (mode === 'relaxed') store.db.pragma('synchronous = NORMAL');
    const level = store.db.pragma('synchronous', { simple: true });
    await store.append('warm-up', [{ type: 'WarmUp' }]);
    const latencies = [];
    const t0 = performance.now();
    for (let i = 0; i < o.singles; i++) {
      const t = performance.now();
      await store.append(`order-${i % 100}`, [{ type: 'Appended', data: { i, pad: PAD } }]);
      latencies.push(performance.now() - t);
    }
    const singlesMs = performance.now() - t0;
    const t1 = performance.now();
    for (let b = 0; b < o.batches; b++) {
      await store.appendMany(Array.from({ length: o.batchSize }, (_, i) => ({ streamId: `bulk-${i % 100}`, type: 'Imported', data: { b, i, pad: PAD } })));
    }
    const batchMs = performance.now() - t1;
    return { level, singlesMs, latencies, batchMs };
  } finally {
    await store.close();
    removeStore(path);
  }
}

/** Runs both modes `runs` times, alternating which goes first. */
export async function measureAppends({ root, data, singles, batches, batchSize, runs, log }) {
  const { openSqliteStore } = await import(join(root, 'dist/index.js'));
  const path = join(data, 'append-bench.db');
  const seen = { durable: [], relaxed: [] };
  for (let r = 0; r < runs; r++) {
    const order = r % 2 === 0 ? ['durable', 'relaxed'] : ['relaxed', 'durable'];
    for (const mode of order) seen[mode].push(await once(openSqliteStore, path, mode, { singles, batches, batchSize }));
    log(`  run ${r + 1}/${runs}: ${order.map((m) => `${m} ${Math.round(singles / (seen[m][r].singlesMs / 1000))} appends/s`).join(', ')}`);
  }
  const summary = (list, mode) => {
    const all = list.flatMap((x) => x.latencies);
    return {
      synchronous: MODES[mode],
      levelSeen: list[0].level,
      appendsPerSec: median(list.map((x) => singles / (x.singlesMs / 1000))),
      p50Ms: percentile(all, 50),
      p99Ms: percentile(all, 99),
      batchEventsPerSec: batches > 0 ? median(list.map((x) => (batches * batchSize) / (x.batchMs / 1000))) : null,
    };
  };
  return { singles, batches, batchSize, runs, durable: summary(seen.durable, 'durable'), relaxed: summary(seen.relaxed, 'relaxed') };
}

/** Rows for the figures table: [what, figure, detail]. */
export function appendRows(a) {
  const rate = (n) => `${Math.round(n).toLocaleString('en-US')}/s`;
  const ms = (n) => `${n.toFixed(2)} ms`;
  const rows = [];
  for (const mode of ['durable', 'relaxed']) {
    const m = a[mode];
    rows.push([
      `library append(), one event, ${mode} (synchronous=${m.synchronous})`,
      rate(m.appendsPerSec),
      `p50 ${ms(m.p50Ms)}, p99 ${ms(m.p99Ms)}; ${a.singles} appends × ${a.runs} runs${mode === 'durable' ? ', what es does' : ', es before: not durable'}`,
    ]);
  }
  if (a.batches > 0) {
    rows.push([
      `appendMany() of ${a.batchSize} events (import, demo)`,
      `${rate(a.durable.batchEventsPerSec)} / ${rate(a.relaxed.batchEventsPerSec)}`,
      `durable / relaxed events per second; ${a.batches} calls a run; durable: one fsync per call`,
    ]);
  }
  rows.push(['cost of durable single appends', `${(a.relaxed.appendsPerSec / a.durable.appendsPerSec).toFixed(1)}x`, 'relaxed / durable appends per second']);
  return rows;
}
