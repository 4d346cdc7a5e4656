import type { StatusReport, StatusRow } from '../engine/status.js';
import type { ProjectionState } from '../engine/types.js';

/**
 * `es project status --format prometheus`: the status report in the Prometheus text exposition
 * format 0.0.4, for node_exporter's textfile collector. Every family is a gauge but the dead-letter
 * count, a counter (the stream only grows); each family's HELP and TYPE come first and its samples
 * follow together, as the format requires.
 */

const STATES: readonly ProjectionState[] = ['up-to-date', 'behind', 'rebuilding', 'never-run', 'faulted', 'stale-version'];

type Labels = Record<string, string>;
interface Family {
  name: string;
  help: string;
  type?: 'gauge' | 'counter';
  samples: { labels: Labels; value: number }[];
}

/** Label values escape backslash, double quote and line feed; nothing else. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed only. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Go's ParseFloat reads what JavaScript prints for finite numbers; the rest have fixed spellings. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([key, v]) => `${key}="${escapeLabelValue(v)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`;
}

function perProjection(name: string, help: string, rows: StatusRow[], value: (row: StatusRow) => number | null): Family {
  const samples = rows.flatMap((row) => {
    const v = value(row);
    // No sample rather than a made-up 0 (a never-run projection has no last checkpoint time).
    return v === null ? [] : [{ labels: { projection: row.name }, value: v }];
  });
  return { name, help, samples };
}

export function families(report: StatusReport): Family[] {
  const rows = report.projections;
  return [
    { name: 'es_head_position', help: 'Global position of the last event outside system streams.', samples: [{ labels: {}, value: report.head }] },
    {
      name: 'es_projections_healthy',
      help: '1 when every projection reported is healthy (the exit status of es project status is then 0), else 0.',
      samples: [{ labels: {}, value: report.healthy ? 1 : 0 }],
    },
    perProjection('es_projection_healthy', '1 when the projection is healthy, else 0.', rows, (r) => (r.healthy ? 1 : 0)),
    perProjection('es_projection_position', 'Global position of the last event the projection processed (its checkpoint).', rows, (r) => r.position),
    perProjection('es_projection_lag_events', 'Events after the checkpoint that the projection would process.', rows, (r) => r.lag),
    perProjection('es_projection_lag_seconds', 'Age of the oldest event the projection has yet to process (0 when up to date).', rows, (r) => r.lagSeconds),
    perProjection('es_projection_version', 'Version of the projection definition.', rows, (r) => r.version),
    perProjection(
      'es_projection_last_checkpoint_timestamp_seconds',
      'Unix time of the last event in the checkpoint stream; absent for a projection that never ran.',
      rows,
      (r) => (r.lastCheckpointAt === null ? null : Date.parse(r.lastCheckpointAt) / 1000),
    ),
    {
      ...perProjection(
        'es_projection_dead_letters_total',
        "Events in the projection's dead-letter stream $deadletter-<name> (handlers that failed with --on-error skip).",
        rows,
        (r) => r.deadLetters,
      ),
      type: 'counter',
    },
    {
      name: 'es_projection_owner',
      help: "The process holding the projection's lease (labels host and pid): 1 while it holds it; 0 with empty labels when nobody does.",
      samples: rows.map((row) => ({
        labels: { projection: row.name, host: row.owner?.host ?? '', pid: row.owner ? String(row.owner.pid) : '' },
        value: row.owner ? 1 : 0,
      })),
    },
    perProjection(
      'es_projection_lease_expires_timestamp_seconds',
      "Unix time when the holder's lease runs out unless renewed; absent when nobody holds the projection.",
      rows,
      (r) => (r.owner === null ? null : Date.parse(r.owner.leaseExpiresAt) / 1000),
    ),
    {
      name: 'es_projection_shadow_position',
      help: "Position of the projection's shadow read model (rebuild --shadow), label version its version; absent when it has none.",
      samples: rows.flatMap((r) =>
        r.shadow ? [{ labels: { projection: r.name, version: String(r.shadow.version), state: r.shadow.state }, value: r.shadow.position }] : [],
      ),
    },
    perProjection(
      'es_projection_shadow_lag_events',
      "Events after the shadow's position it would process; absent when it has none.",
      rows,
      (r) => r.shadow?.lag ?? null,
    ),
    {
      name: 'es_workers',
      help: 'run --follow workers sharing the store with a live heartbeat.',
      samples: [{ labels: {}, value: report.workers }],
    },
    {
      name: 'es_projection_state',
      help: `1 for the state the projection is in, 0 for the others (${STATES.join(', ')}).`,
      samples: rows.flatMap((row) => STATES.map((state) => ({ labels: { projection: row.name, state }, value: row.state === state ? 1 : 0 }))),
    },
  ];
}

export function renderPrometheus(report: StatusReport): string {
  const lines: string[] = [];
  for (const family of families(report)) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type ?? 'gauge'}`);
    for (const s of family.samples) lines.push(sample(family.name, s.labels, s.value));
  }
  return `${lines.join('\n')}\n`;
}
