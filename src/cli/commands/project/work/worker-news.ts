import type { WorkerNews } from '../../../../engine/worker.js';
import type { Output } from '../../../output.js';

/**
 * What a worker of `run --follow` says as it goes, on stderr: one line per lease taken, handed over or
 * lost (JSON log lines with --log-format json). Losing a lease is a warning, so --quiet hides only news.
 */
export function logWorkerNews(out: Output, news: WorkerNews): void {
  // News as a plain note; a warning marked, on stderr even with --quiet in text.
  const say = (level: 'info' | 'warn', text: string, fields: Record<string, unknown>): void => {
    if (level === 'info') out.event('info', text, fields);
    else out.event('warn', text, fields, out.color.yellow('!'), 'error');
  };
  switch (news.kind) {
    case 'joined':
      say('info', `worker pid ${news.worker.pid} on ${news.worker.host} joined; standing by for projections`, { worker: news.worker.id, joined: true });
      return;
    case 'took':
      say('info', `${news.name}: took the lease (token ${news.token}; share ${news.share} for ${news.workers} workers)`, {
        projection: news.name,
        lease: 'taken',
        token: news.token,
        share: news.share,
        workers: news.workers,
      });
      return;
    case 'handed-over':
      say('info', `${news.name}: handed over (share ${news.share} for ${news.workers} workers)`, {
        projection: news.name,
        lease: 'handed-over',
        share: news.share,
        workers: news.workers,
      });
      return;
    case 'asked-for':
      say('info', `${news.name}: handed over to a promote or verify that asked for it`, { projection: news.name, lease: 'asked-for' });
      return;
    case 'lost':
      say('warn', `${news.name}: lost the lease (token ${news.token}): ${news.reason}; standing by`, {
        projection: news.name,
        lease: 'lost',
        token: news.token,
        reason: news.reason,
      });
      return;
    case 'error':
      say('warn', news.name ? `${news.name}: ${news.message}` : news.message, { projection: news.name, error: news.message });
      return;
    case 'reconnected':
      say('info', 'the store answers again', { reconnected: true });
      return;
    case 'stopped':
      // Reported by the caller with the run's outcome.
      return;
  }
}
