import type { Projection } from '../../../../core/projection.js';
import { runWorker } from '../../../../engine/worker.js';
import type { EventStore } from '../../../../ports/event-store.js';
import { formatDuration, type Output } from '../../../output.js';
import type { OptionsFor } from './options.js';
import { reportOutcome, type Outcome } from './present.js';
import { logWorkerNews } from './worker-news.js';

/**
 * `run --follow`, many workers: this process shares the projections with every other `run --follow`
 * on the store until a signal. Each projection's outcome is reported; a faulted one as it stops.
 */
export async function follow(
  out: Output,
  store: EventStore<unknown>,
  projections: Projection<unknown>[],
  optionsFor: OptionsFor,
  { leaseMs, signal }: { leaseMs: number; signal: AbortSignal },
): Promise<Outcome[]> {
  out.note(`following ${projections.map((p) => p.name).join(', ')} (lease ${formatDuration(leaseMs)}); stop with Ctrl-C or SIGTERM`);
  const results = await runWorker(store, projections, {
    leaseMs,
    signal,
    optionsFor: (p) => {
      const { deadline: _d, asked: _a, leaseMs: _l, ...options } = optionsFor(p);
      return options;
    },
    onNews: (news) => {
      // A faulted projection stops long before a signal stops the others: said as it happens.
      if (news.kind === 'stopped') reportOutcome(out, { result: news.result });
      else logWorkerNews(out, news);
    },
  });
  const early: readonly string[] = ['faulted', 'stale-version', 'awaiting-promotion', 'superseded'];
  const stoppedEarly = new Set(results.filter((r) => early.includes(r.state)).map((r) => r.name));
  for (const result of results) {
    if (!stoppedEarly.has(result.name)) reportOutcome(out, { result: { ...result, interrupted: false } });
  }
  return results.map((result) => ({ result }));
}
