import { parseDuration, parseWholeNumber } from '../../../core/duration.js';
import { acquireLease, LeaseKeeper, LOCK_TTL_MS, MIN_LEASE_MS, type Lease } from '../../../engine/lease.js';
import { runWorker } from '../../../engine/worker.js';
import { logWorkerNews } from './worker-news.js';
import { EsError, isEsError, usage, type ErrorCode } from '../../../core/errors.js';
import { MAX_BATCH_SIZE } from '../../settings.js';
import type { Projection } from '../../../core/projection.js';
import type { EventStore } from '../../../ports/event-store.js';
import type { Incident, Progress, RunOptions, RunResult } from '../../../engine/types.js';
import { fault, idleResult } from '../../../engine/results.js';
import type { Context } from '../../context.js';
import { afterBatch } from '../../heap.js';
import { trapStopSignals } from '../../signals.js';
import { formatCount, formatDuration, formatRate, plural, printable, type Output } from '../../output.js';

export interface WorkFlags {
  follow?: boolean;
  batchSize?: string;
  wait?: string;
  onError?: string;
  lease?: string;
}

/** Runs, rebuilds or replays a set of projections (in one pass where the engine can). */
export type Job = (
  store: EventStore<unknown>,
  projections: Projection<unknown>[],
  options: RunOptions,
) => Promise<RunResult[]>;

interface Outcome {
  result: RunResult;
  /** An error that stopped this projection without being a fault of its handlers (e.g. locked). */
  failure?: EsError;
}

function progressText(out: Output, p: Progress, startedAt: number): string {
  const elapsed = performance.now() - startedAt;
  const rate = formatRate(p.processed, elapsed);
  let text = `${out.color.bold(p.name)}  ${formatCount(p.processed)}`;
  if (p.total !== null && p.total > 0) {
    text += `/${formatCount(p.total)} events`;
    const left = p.total - p.processed;
    if (p.processed > 0 && left > 0) text += `  ETA ${formatDuration((elapsed / p.processed) * left)}`;
  } else text += ' events';
  return rate ? `${text}  ${rate}` : text;
}

function summary(out: Output, result: RunResult): string {
  const { color } = out;
  const head = `${color.bold(result.name)}  ${result.from} → ${result.to}  ${plural(result.processed, 'event')} in ${formatDuration(result.durationMs)}`;
  const rate = formatRate(result.processed, result.durationMs);
  const withRate = rate ? `${head} (${rate})` : head;
  switch (result.state) {
    case 'faulted': {
      const e = result.error;
      const where = e?.position != null ? ` at position ${e.position} (${printable(String(e.type))}, id ${printable(String(e.eventId))})` : '';
      // Text from the log and from handler code: escaped, so the line stays one line.
      return `${color.red('✖')} ${withRate}  ${color.red(`faulted${where}: ${printable(e?.message ?? '')}`)}`;
    }
    case 'stale-version':
      return `${color.yellow('!')} ${color.bold(result.name)}  ${color.yellow('stale-version')}: its version changed; run \`es project rebuild ${result.name}\``;
    default: {
      // Skipped events are not applied: say so on the line that would otherwise read "up-to-date".
      const dead = result.deadLettered > 0
        ? `; ${color.yellow(`${plural(result.deadLettered, 'event')} dead-lettered to $deadletter-${result.name}`)}`
        : '';
      return result.interrupted
        ? `${color.yellow('■')} ${withRate}  ${color.yellow('interrupted')}${dead}`
        : `${color.green(result.deadLettered > 0 ? '!' : '✔')} ${withRate}  ${result.state}${dead}`;
    }
  }
}

function reportOutcome(out: Output, { result, failure }: Outcome): void {
  if (failure?.code === 'INTERRUPTED') {
    // Stopped by a signal while waiting for another runner: a warning, like any interrupted run.
    // With --json, stdout holds the document only: the line goes to stderr.
    const fields = { projection: result.name, code: failure.code, interrupted: true };
    out.event('warn', failure.message, fields, out.color.yellow('■'), out.json ? 'note' : 'line');
    return;
  }
  if (failure) {
    out.report('error', failure.message, { projection: result.name, code: failure.code });
    return;
  }
  const { name, from, to, processed, durationMs, state, error, interrupted, deadLettered } = result;
  const level = state === 'faulted' || state === 'stale-version' ? 'error' : interrupted || deadLettered > 0 ? 'warn' : 'info';
  const fields = { projection: name, from, to, processed, durationMs, state, interrupted, deadLettered, error };
  if (out.logFormat === 'json') out.report(level, `${name}: ${interrupted ? 'interrupted' : state}`, fields);
  else if (level === 'error') out.error(summary(out, result));
  else if (!out.json) out.line(summary(out, result));
  // With --json, stdout holds the document only; what needs a person's attention goes to stderr.
  else if (level === 'warn') out.note(summary(out, result));
}

/**
 * A dead letter (of a --follow runner) or a recovery, on stderr as it happens. Warnings and news, so
 * --quiet hides them; faults are reported as errors.
 */
function logIncident(out: Output, incident: Incident): void {
  if (incident.kind === 'broker-down' || incident.kind === 'broker-back') return logBroker(out, incident);
  if (incident.kind === 'held-back') {
    const text =
      `${incident.name}: ${formatCount(incident.pending)} committed event(s) still wait behind an older open transaction ` +
      `(waited ${formatDuration(incident.waitedMs)}); they are read when it ends (see pg_stat_activity)`;
    out.event('warn', text, { projection: incident.name, heldBack: incident.pending }, out.color.yellow('!'));
    return;
  }
  const { name, fault: f } = incident;
  const at = `the event at position ${f.position} (${printable(String(f.type))}, id ${printable(String(f.eventId))})`;
  const fields = { projection: name, position: f.position, eventId: f.eventId, type: f.type };
  if (incident.kind === 'dead-letter') {
    const text = `${name}: dead-lettered ${at} to ${incident.stream}: ${printable(f.message)}`;
    out.event('warn', text, { ...fields, deadLetter: true, stream: incident.stream, error: f }, out.color.yellow('!'));
  } else {
    const text = `${name}: recovered: got past ${at}, where it had faulted`;
    out.event('info', text, { ...fields, recovered: true, checkpoint: incident.position }, out.color.green('✔'));
  }
}

/** A publishing projection waiting for its broker: a warning while it waits, news when it is back. */
function logBroker(out: Output, incident: Extract<Incident, { kind: 'broker-down' | 'broker-back' }>): void {
  const text =
    incident.kind === 'broker-down'
      ? `${incident.name}: broker unreachable, retrying in ${formatDuration(incident.retryInMs)} (the checkpoint waits): ${printable(incident.message)}`
      : `${incident.name}: broker reachable again, publishing`;
  const down = incident.kind === 'broker-down';
  out.event(down ? 'warn' : 'info', text, { projection: incident.name, broker: down ? 'down' : 'up' }, down ? out.color.yellow('!') : out.color.green('✔'));
}

const SEVERITY: ErrorCode[] = ['ENVIRONMENT', 'LOCKED', 'FAULTED'];

/** `--wait`: one deadline for every lock the command takes, and the wait as the user wrote it. */
interface LockWait {
  deadline: number;
  asked?: string;
  /** `--lease`. */
  leaseMs: number;
}

/**
 * Takes the lock of every projection of a group, runs the job on those it got, and releases them.
 * A projection another process holds is reported and left alone; the others still run.
 */
async function runGroup(
  ctx: Context,
  store: EventStore<unknown>,
  projections: Projection<unknown>[],
  job: Job,
  options: RunOptions & LockWait,
): Promise<Outcome[]> {
  const { deadline, asked, leaseMs, ...runOptions } = options;
  const outcomes = new Map<string, Outcome>();
  const keeper = new LeaseKeeper(store, leaseMs);
  const held: { projection: Projection<unknown>; lease: Lease }[] = [];
  try {
    for (const projection of projections) {
      try {
        held.push({ projection, lease: await acquireLease(store, keeper, projection.name, { deadline, asked, signal: options.signal }) });
      } catch (error) {
        if (!isEsError(error) || (error.code !== 'LOCKED' && error.code !== 'INTERRUPTED')) throw error;
        const interrupted = error.code === 'INTERRUPTED';
        outcomes.set(projection.name, { result: idleResult(projection.name, 0, 'behind', { interrupted }), failure: error });
      }
    }
    if (held.length > 0 && options.signal?.aborted) {
      // A signal came while waiting for another projection's lock: nothing of these was started.
      for (const { projection } of held) {
        outcomes.set(projection.name, { result: idleResult(projection.name, 0, 'behind', { interrupted: true }) });
      }
    } else if (held.length > 0) {
      const { out } = ctx;
      const spinner = options.follow ? null : await out.spinner(held.map((h) => h.projection.name).join(', '));
      const startedAt = performance.now();
      const processed = new Map<string, number>();
      try {
        const results = await job(store, held.map((h) => h.projection), {
          ...runOptions,
          // A lost lease stops its projection's run (state `locked`); the others go on.
          leases: new Map(held.map((h) => [h.projection.name, h.lease])),
          countTotal: spinner !== null,
          onProgress: (p) => {
            afterBatch(p.processed - (processed.get(p.name) ?? 0));
            processed.set(p.name, p.processed);
            if (spinner) spinner.text = progressText(out, p, startedAt);
          },
        });
        for (const result of results) {
          // Stopped by a fenced commit (the lease taken over before its renewal noticed), or by the renewal.
          const failure = result.state === 'locked' ? new EsError('LOCKED', result.error?.message ?? `${result.name}: lost its lease`) : null;
          outcomes.set(result.name, failure ? { result, failure } : { result });
        }
      } catch (error) {
        if (!isEsError(error) || error.code === 'USAGE') throw error;
        for (const { projection } of held) outcomes.set(projection.name, { result: idleResult(projection.name, 0, 'behind'), failure: error });
      } finally {
        spinner?.stop();
      }
    }
  } finally {
    for (const { lease } of held) await lease.release();
  }
  return projections.map((p) => outcomes.get(p.name) as Outcome);
}

/** Runs a job (run, rebuild, replay-from) for each projection, reports, and decides the exit. */
export async function work(ctx: Context, projections: Projection<unknown>[], job: Job, flags: WorkFlags): Promise<void> {
  const batchFlag = flags.batchSize === undefined ? undefined : parseWholeNumber(flags.batchSize, '--batch-size', 1);
  if (batchFlag !== undefined && batchFlag > MAX_BATCH_SIZE) {
    throw usage(`--batch-size: at most ${MAX_BATCH_SIZE.toLocaleString('en-US')} (a batch is held in memory whole)`);
  }
  const waitMs = flags.wait === undefined ? 0 : parseDuration(flags.wait, '--wait');
  const leaseMs = flags.lease === undefined ? LOCK_TTL_MS : parseDuration(flags.lease, '--lease');
  if (leaseMs < MIN_LEASE_MS) throw usage(`--lease: at least ${MIN_LEASE_MS / 1000}s (it is renewed every third of it)`);
  // Taken before the store opens, so the whole command, not each projection, waits at most --wait.
  const wait: LockWait = { deadline: Date.now() + waitMs, asked: flags.wait?.trim(), leaseMs };
  if (flags.onError !== undefined && flags.onError !== 'stop' && flags.onError !== 'skip') {
    throw usage(`--on-error: "${flags.onError}" is not stop or skip`);
  }
  const store = await ctx.openStore();
  const { out, settings } = ctx;
  // A projection whose read model's database cannot be reached fails alone (exit 3); the others run.
  const { targets, failures: unreachable } = await ctx.openTargets(projections);
  const skipped = projections.filter((p) => unreachable.has(p.name));
  projections = projections.filter((p) => !unreachable.has(p.name));
  // A broker that is down or back is news as it happens.
  const publishers = await ctx.openPublishers(projections, (incident) => logIncident(out, incident));
  const signals = trapStopSignals();
  // A flag beats the projection's own options in es.config.json, which beat the file's defaults.
  const optionsFor = (projection: Projection<unknown>) => {
    const own = settings.projectionOptions[projection.name] ?? {};
    return {
      batchSize: batchFlag ?? own.batchSize ?? settings.batchSize,
      onError: (flags.onError as 'stop' | 'skip' | undefined) ?? own.onError ?? settings.onError,
      follow: flags.follow,
      // A cron run counts its dead letters in its summary line; a follower has no end of run to wait for.
      onIncident: (incident: Incident) => {
        if (flags.follow || incident.kind !== 'dead-letter') logIncident(out, incident);
      },
      signal: signals.signal,
      targets,
      publishers,
      ...wait,
    };
  };
  let outcomes: Outcome[] = skipped.map((p) => ({ result: idleResult(p.name, 0, 'behind'), failure: unreachable.get(p.name) as EsError }));
  for (const outcome of outcomes) reportOutcome(out, outcome);
  try {
    if (flags.follow) {
      // Many workers: this process shares the projections with every other `run --follow` on the store.
      out.note(`following ${projections.map((p) => p.name).join(', ')} (lease ${formatDuration(leaseMs)}); stop with Ctrl-C or SIGTERM`);
      const results = await runWorker(store, projections, {
        leaseMs,
        signal: signals.signal,
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
      const stoppedEarly = new Set(results.filter((r) => r.state === 'faulted' || r.state === 'stale-version').map((r) => r.name));
      for (const result of results) {
        if (!stoppedEarly.has(result.name)) reportOutcome(out, { result: { ...result, interrupted: false } });
      }
      // After the projections whose target could not be reached: they are still reported (exit 3).
      outcomes.push(...results.map((result) => ({ result })));
    } else {
      // Projections with the same options share one pass over the log.
      const groups = new Map<string, Projection<unknown>[]>();
      for (const projection of projections) {
        const { batchSize, onError } = optionsFor(projection);
        const key = `${batchSize}/${onError}`;
        groups.set(key, [...(groups.get(key) ?? []), projection]);
      }
      for (const group of groups.values()) {
        if (signals.signal.aborted) break;
        const done = await runGroup(ctx, store, group, job, optionsFor(group[0] as Projection<unknown>));
        for (const outcome of done) reportOutcome(out, outcome);
        outcomes.push(...done);
      }
    }
  } finally {
    signals.release();
  }
  if (out.json) {
    out.data({
      projections: outcomes.map(({ result, failure }) => ({
        name: result.name, from: result.from, to: result.to, processed: result.processed,
        durationMs: result.durationMs, state: failure?.code === 'LOCKED' ? 'locked' : result.state,
        error: failure ? fault(failure.message) : result.error,
        deadLettered: result.deadLettered,
      })),
    });
  }

  const failures = outcomes.flatMap((o) => (o.failure ? [o.failure] : []));
  const worst = SEVERITY.find((code) => failures.some((f) => f.code === code));
  if (worst) throw new EsError(worst, '', { details: { reported: true } });
  const received = signals.received();
  if (received && !flags.follow) {
    throw new EsError('INTERRUPTED', '', { details: { reported: true, signal: received } });
  }
  if (outcomes.some((o) => o.result.state === 'faulted' || o.result.state === 'stale-version')) {
    throw new EsError('FAULTED', '', { details: { reported: true } });
  }
}
