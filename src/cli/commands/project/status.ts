import { parseDuration, parseWholeNumber } from '../../../core/duration.js';
import { EsError, usage } from '../../../core/errors.js';
import type { Projection } from '../../../core/projection.js';
import { describePublish } from '../../../core/publish.js';
import { sleep } from '../../../core/sleep.js';
import { status as computeStatus, type StatusReport, type StatusRow, type Thresholds } from '../../../engine/status.js';
import type { EventStore } from '../../../ports/event-store.js';
import type { Context } from '../../context.js';
import { formatAge, formatCount, plural, printable, type Output } from '../../output.js';
import { renderPrometheus } from '../../prometheus.js';
import { displayTarget } from '../../../drivers/open-target.js';
import { trapStopSignals } from '../../signals.js';

export interface StatusFlags {
  maxLag?: string;
  maxAge?: string;
  /** commander has checked it is one of these. */
  format?: 'table' | 'prometheus';
  watch?: boolean;
}

const WATCH_INTERVAL_MS = 1000;
/** Cursor home, then clear the screen: each frame of --watch replaces the last. */
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

function stateCell(out: Output, row: StatusRow): string {
  const { color } = out;
  if (row.state === 'up-to-date') return color.green(row.state);
  if (row.state === 'faulted' || row.state === 'stale-version') return color.red(row.state);
  return row.healthy ? color.yellow(row.state) : color.red(row.state);
}

/** A publishing projection's row names its broker (password redacted); other rows are unchanged. */
function publishField(projections: readonly Projection<unknown>[], name: string): { publish?: string } {
  const config = projections.find((p) => p.name === name)?.publish;
  return config ? { publish: config.display } : {};
}

function age(iso: string | null): string {
  if (!iso) return '-';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}

/** pid@host, and how long the lease has left (renewed every third of it, so it rarely reads low). */
function ownerCell(row: StatusRow): string {
  if (!row.owner) return '-';
  const left = Math.max(0, (Date.parse(row.owner.leaseExpiresAt) - Date.now()) / 1000);
  return `${row.owner.pid}@${printable(row.owner.host)} (lease ${left.toFixed(0)}s)`;
}

/** Redacted target URLs of the projections that keep their read model in another database. */
type Targets = ReadonlyMap<string, string>;

function showTable(out: Output, report: StatusReport, targets: Targets = new Map()): void {
  out.table(
    ['PROJECTION', 'VERSION', 'POSITION', 'LAG', 'LAG AGE', 'STATE', 'LAST CHECKPOINT', 'OWNER'],
    report.projections.map((row) => [
      row.name,
      String(row.version),
      formatCount(row.position),
      formatCount(row.lag),
      row.lag > 0 ? formatAge(row.lagSeconds) : '-',
      stateCell(out, row),
      age(row.lastCheckpointAt),
      ownerCell(row),
    ]),
    ['left', 'right', 'right', 'right', 'right', 'left', 'left', 'left'],
  );
  for (const row of report.projections) {
    const target = targets.get(row.name);
    if (target) out.line(`${row.name}: read model in ${target}`);
    if (row.error) {
      // The type, id and message come from the log and from handler code: shown escaped, on one line.
      const { position, type, eventId, message } = row.error;
      out.line(
        out.color.red(`${row.name}: faulted at position ${position} (${printable(String(type))}, id ${printable(String(eventId))}): ${printable(message)}`),
      );
    }
    if (row.state === 'stale-version' && !row.shadow) out.line(out.color.yellow(`${row.name}: version changed; run \`es project rebuild ${row.name}\``));
    if (row.shadow) {
      const { version, position, lag, state } = row.shadow;
      const next = state === 'up-to-date' ? `; swap it in with es project promote ${row.name}` : '';
      out.line(`${row.name}: shadow version ${version} at position ${formatCount(position)}, lag ${formatCount(lag)}, ${state}${next}`);
    }
    if (report.workers > 0 && row.owner === null && row.lag > 0 && row.state !== 'faulted' && row.state !== 'stale-version') {
      out.line(out.color.red(`${row.name}: ${plural(row.lag, 'event')} waiting and no worker holds it (${plural(report.workers, 'worker')} running)`));
    }
    if (row.deadLetters > 0) {
      out.line(out.color.yellow(`${row.name}: ${plural(row.deadLetters, 'event')} in $deadletter-${row.name} (es read --stream '$deadletter-${row.name}')`));
    }
  }
  const workers = report.workers > 0 ? `  ${plural(report.workers, 'worker')}` : '';
  out.line(`head ${formatCount(report.head)}${workers}  ${report.healthy ? out.color.green('healthy') : out.color.red('unhealthy')}`);
}

/** Redraws the table every second until SIGINT or SIGTERM, the normal way to leave it (exit 0). */
async function watch(out: Output, store: EventStore<unknown>, projections: Projection<unknown>[], thresholds: Thresholds, targets: Targets) {
  const signals = trapStopSignals();
  try {
    while (!signals.signal.aborted) {
      const report = await computeStatus(store, projections, thresholds);
      const stamp = new Date().toISOString().replace('T', ' ').slice(0, 19);
      out.line(`${CLEAR_SCREEN}${out.color.dim(`es project status --watch  every 1s  ${stamp} UTC  (Ctrl-C to stop)`)}`);
      out.line();
      showTable(out, report, targets);
      await sleep(WATCH_INTERVAL_MS, signals.signal);
    }
  } finally {
    signals.release();
  }
}

export async function status(ctx: Context, names: string[], flags: StatusFlags) {
  const maxLag = flags.maxLag === undefined ? undefined : parseWholeNumber(flags.maxLag, '--max-lag');
  const maxAgeMs = flags.maxAge === undefined ? undefined : parseDuration(flags.maxAge, '--max-age');
  const format = flags.format ?? 'table';
  const { out } = ctx;
  if (format === 'prometheus' && out.json) throw usage('--json and --format prometheus exclude each other');
  if (flags.watch) {
    if (out.json || format !== 'table' || out.quiet) throw usage('--watch shows the table; it does not go with --json, --format prometheus or --quiet');
    // A redrawing screen in a log file or a pipe is noise; scripts want one report and the exit code.
    if (process.stdout.isTTY !== true) throw usage('--watch needs a terminal (stdout is not one); run without --watch for a single report');
  }
  const projections = await ctx.select(names);
  const store = await ctx.openStore();
  const targets = new Map<string, string>();
  for (const p of projections) {
    const url = ctx.targetOf(p);
    if (url !== null) targets.set(p.name, displayTarget(url));
  }
  if (flags.watch) return watch(out, store, projections, { maxLag, maxAgeMs }, targets);
  const report = await computeStatus(store, projections, { maxLag, maxAgeMs });
  if (format === 'prometheus') {
    // Machine-readable like --json, so --quiet does not hide it; Output only knows lines and JSON.
    process.stdout.write(renderPrometheus(report));
  } else if (out.json) {
    out.data({
      head: report.head,
      healthy: report.healthy,
      // The documented row; the dead-letter count is in the table's notes and the Prometheus counter.
      // `target` only on projections that have one (redacted), so other rows keep the documented shape.
      projections: report.projections.map(({ healthy: _healthy, deadLetters: _deadLetters, ...row }) => ({
        ...row,
        ...(targets.has(row.name) ? { target: targets.get(row.name) } : {}),
        ...publishField(projections, row.name),
      })),
    });
  } else {
    showTable(out, report, targets);
    for (const p of projections) {
      if (p.publish) out.line(`${p.name}: publishes to ${describePublish(p.publish)}`);
    }
  }
  if (!report.healthy) throw new EsError('UNHEALTHY', '', { details: { reported: true } });
}
