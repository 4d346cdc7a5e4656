import type { EsError } from '../../../../core/errors.js';
import { fault } from '../../../../engine/results.js';
import type { Incident, Progress, RunResult } from '../../../../engine/types.js';
import { formatCount, formatDuration, formatRate, plural, printable, type Output } from '../../../output.js';

/** A projection's result as the command reports it. */
export interface Outcome {
  result: RunResult;
  /** An error that stopped this projection without being a fault of its handlers (e.g. locked). */
  failure?: EsError;
}

/** The spinner's text while a group runs. */
export function progressText(out: Output, p: Progress, startedAt: number): string {
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
    case 'awaiting-promotion':
      return (
        `${color.yellow('■')} ${color.bold(result.name)}  ${color.yellow('awaiting-promotion')}: the live read model is version ${result.liveVersion}, ` +
        `this file is newer; it is left to the processes with that version until this one is promoted ` +
        `(es project rebuild ${result.name} --shadow, then es project promote ${result.name})`
      );
    case 'superseded':
      return (
        `${color.yellow('■')} ${color.bold(result.name)}  ${color.yellow('superseded')}: version ${result.liveVersion} was promoted, ` +
        `this file is older; this process stands down for it (deploy the new version)`
      );
    default: {
      // Skipped events are not applied: say so on the line that would otherwise read "up-to-date".
      const dead = result.deadLettered > 0 ? `; ${color.yellow(`${plural(result.deadLettered, 'event')} dead-lettered to $deadletter-${result.name}`)}` : '';
      return result.interrupted
        ? `${color.yellow('■')} ${withRate}  ${color.yellow('interrupted')}${dead}`
        : `${color.green(result.deadLettered > 0 ? '!' : '✔')} ${withRate}  ${result.state}${dead}`;
    }
  }
}

/** One projection's outcome: its summary line, or a JSON log line with --log-format json. */
export function reportOutcome(out: Output, { result, failure }: Outcome): void {
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
  const standsBy = state === 'awaiting-promotion' || state === 'superseded';
  const level = state === 'faulted' || state === 'stale-version' ? 'error' : interrupted || deadLettered > 0 || standsBy ? 'warn' : 'info';
  const fields = { projection: name, from, to, processed, durationMs, state, interrupted, deadLettered, error };
  // The summary line in text is not the log line's message, so not Output.event.
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
export function logIncident(out: Output, incident: Incident): void {
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

/** The --json document: one entry per projection, a failure such as a held lock as its state and error. */
export function printDocument(out: Output, outcomes: readonly Outcome[]): void {
  if (!out.json) return;
  out.data({
    projections: outcomes.map(({ result, failure }) => ({
      name: result.name,
      from: result.from,
      to: result.to,
      processed: result.processed,
      durationMs: result.durationMs,
      state: failure?.code === 'LOCKED' ? 'locked' : result.state,
      error: failure ? fault(failure.message) : result.error,
      deadLettered: result.deadLettered,
      ...(result.shadow ? { shadow: true } : {}),
    })),
  });
}
