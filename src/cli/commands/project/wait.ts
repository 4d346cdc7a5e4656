import { parseDuration, parseWholeNumber } from '../../../core/duration.js';
import { EsError } from '../../../core/errors.js';
import { waitForProjections, type WaitProgress, type WaitResult } from '../../../engine/wait.js';
import type { Context } from '../../context.js';
import { formatCount, formatDuration, printable, type Output } from '../../output.js';
import { trapStopSignals } from '../../signals.js';

export interface WaitFlags {
  timeout?: string;
  position?: string;
}

function problem(p: WaitProgress, target: number): string {
  if (p.failure === 'stale-version') {
    return `${p.name} is stale-version (its version changed) and will not be run before \`es project rebuild ${p.name}\``;
  }
  const e = p.error;
  const where = e?.position != null ? ` at position ${e.position} (${printable(String(e.type))}, id ${printable(String(e.eventId))})` : '';
  return `${p.name} is faulted${where}: ${printable(e?.message ?? 'unknown error')}; it will not reach position ${formatCount(target)}`;
}

function report(out: Output, result: WaitResult, timeout: string | undefined): void {
  if (out.json) {
    out.data({
      target: result.target,
      outcome: result.outcome,
      waitedMs: result.waitedMs,
      projections: result.projections.map(({ name, position, reached, failure }) => ({ name, position, reached, failure })),
    });
  }
  const target = formatCount(result.target);
  const behind = result.projections.filter((p) => !p.reached).map((p) => `${p.name} (at ${formatCount(p.position)})`);
  const fields = { target: result.target, outcome: result.outcome, waitedMs: result.waitedMs };
  switch (result.outcome) {
    case 'reached': {
      const names = result.projections.map((p) => p.name).join(', ') || 'no projections';
      const text = `position ${target} reached by ${names} in ${formatDuration(result.waitedMs)}`;
      out.event('info', text, fields, out.color.green('✔'), 'line');
      return;
    }
    case 'failed':
      for (const p of result.projections) {
        if (p.failure) out.report('error', problem(p, result.target), { ...fields, projection: p.name, state: p.failure });
      }
      return;
    case 'timed-out':
      out.report('error', `timed out after ${timeout ?? formatDuration(result.waitedMs)}; not at position ${target} yet: ${behind.join(', ')}`, fields);
      return;
    case 'interrupted':
      // A remark for people on stderr ("es: " before it in text); with --log-format json, a JSON log line.
      out.event('warn', `interrupted while waiting for position ${target}; not there yet: ${behind.join(', ')}`, fields, 'es:');
  }
}

/** Blocks until the projections reach the head as it was at the start (or --position); runs nothing itself. */
export async function wait(ctx: Context, names: string[], flags: WaitFlags) {
  const timeoutMs = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout');
  const position = flags.position === undefined ? undefined : parseWholeNumber(flags.position, '--position');
  const projections = await ctx.select(names);
  const store = await ctx.openStore();
  const { out } = ctx;
  const signals = trapStopSignals();
  let spinner: Awaited<ReturnType<Output['spinner']>> = null;
  let result: WaitResult;
  try {
    const head = await store.head();
    const target = position ?? head;
    const limit = flags.timeout === undefined ? 'no timeout' : `timeout ${flags.timeout}`;
    const more = target > head ? `; the head is at ${formatCount(head)} yet` : '';
    const list = projections.map((p) => p.name).join(', ') || 'no projections';
    if (out.logFormat === 'json') out.report('info', `waiting for ${list} to reach position ${target}`, { target, head, timeout: flags.timeout ?? null });
    else out.note(`waiting for ${list} to reach position ${formatCount(target)} (${limit}${more})`);
    spinner = await out.spinner(`waiting for position ${formatCount(target)}`);
    result = await waitForProjections(store, projections, {
      position: target,
      timeoutMs,
      signal: signals.signal,
      onPoll: (progress) => {
        if (spinner) spinner.text = `waiting for position ${formatCount(target)}: ${progress.filter((p) => p.reached).length}/${progress.length} there`;
      },
    });
  } finally {
    spinner?.stop();
    signals.release();
  }
  report(out, result, flags.timeout);
  if (result.outcome === 'failed') throw new EsError('FAULTED', '', { details: { reported: true } });
  if (result.outcome === 'timed-out') throw new EsError('UNHEALTHY', '', { details: { reported: true } });
  if (result.outcome === 'interrupted') {
    throw new EsError('INTERRUPTED', '', { details: { reported: true, signal: signals.received() } });
  }
}
