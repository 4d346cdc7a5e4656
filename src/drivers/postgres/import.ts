import type { ClientBase, Pool } from 'pg';
import { EsError } from '../../core/errors.js';
import { checkNames, sameEvent, type NewStreamEvent } from '../../core/events.js';
import type { ImportResult } from '../../ports/event-store.js';
import { NOTIFY_CHANNEL, OlderTransaction, insertEvents, streamHead } from './append.js';

/** Stream versions remembered across chunks; past this many streams, the table is asked again. */
const VERSION_CACHE = 10_000;

export interface ImportState extends ImportResult {
  index: number;
  versions: Map<string, number>;
}

export function startImport(): ImportState {
  return { appended: 0, skipped: 0, lastPosition: null, index: 0, versions: new Map() };
}

/**
 * Appends one chunk inside the import's transaction. An id stored already (by an earlier chunk too:
 * the transaction sees its own rows) is skipped when the event is the same and refused when it
 * differs, as on SQLite. Consecutive events of one stream go in one insert.
 */
export async function importChunk(client: ClientBase, schema: string, state: ImportState, chunk: readonly NewStreamEvent[]): Promise<void> {
  const first = state.index;
  state.index += chunk.length;
  const refuse = (message: string, offset: number, event: NewStreamEvent): EsError =>
    new EsError('USAGE', message, { details: { index: first + offset, event } });
  const ids = chunk.flatMap((event) => (event.id === undefined ? [] : [event.id]));
  const stored = new Map<string, Parameters<typeof sameEvent>[0]>();
  if (ids.length > 0) {
    const { rows } = await client.query<{ id: string; stream_id: string; type: string; data: string; metadata: string }>(
      `SELECT e.id, e.stream_id, e.type, e.data::text AS data, e.metadata::text AS metadata FROM "${schema}".events e WHERE e.id = ANY($1::text[])`,
      [ids],
    );
    for (const row of rows) {
      stored.set(row.id, { streamId: row.stream_id, type: row.type, data: JSON.parse(row.data), metadata: JSON.parse(row.metadata) });
    }
  }
  let run: NewStreamEvent[] = [];
  const flush = async (): Promise<void> => {
    const head = run[0];
    if (!head) return;
    let current = state.versions.get(head.streamId);
    if (current === undefined) {
      const found = await streamHead(client, schema, head.streamId);
      if (found.newer) throw new OlderTransaction(head.streamId);
      current = found.version;
    }
    const result = await insertEvents(client, schema, head.streamId, current, run);
    if (state.versions.size >= VERSION_CACHE) state.versions.clear();
    state.versions.set(head.streamId, result.version);
    state.lastPosition = result.position;
    state.appended += run.length;
    run = [];
  };
  for (const [offset, event] of chunk.entries()) {
    try {
      checkNames(event.streamId, event.type, event.id);
    } catch (error) {
      throw refuse((error as Error).message, offset, event);
    }
    if (event.id !== undefined) {
      const earlier = stored.get(event.id);
      if (earlier) {
        if (!sameEvent(earlier, event)) throw refuse(`event id "${event.id}" is stored already with different content`, offset, event);
        state.skipped += 1;
        continue;
      }
      stored.set(event.id, { streamId: event.streamId, type: event.type, data: event.data ?? {}, metadata: event.metadata ?? {} });
    }
    if (run.length > 0 && (run[0] as NewStreamEvent).streamId !== event.streamId) await flush();
    run.push(event);
  }
  await flush();
}

export async function finishImport(client: ClientBase, schema: string, state: ImportState): Promise<ImportResult> {
  if (state.appended > 0) await client.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, schema]);
  return { appended: state.appended, skipped: state.skipped, lastPosition: state.lastPosition };
}

/** Imports smaller than this leave the statistics to autovacuum. */
const ANALYZE_AT_LEAST = 1000;

/**
 * Refreshes the planner's statistics after an import that grew the log by a tenth or more (as
 * autovacuum would, later): a table bulk-loaded without them reads a rebuild by a poor plan, several
 * times slower, until autovacuum gets to it. A role that may not analyze the table only gets a
 * warning from the server, which is ignored: the import itself has committed.
 */
export async function analyzeAfterImport(pool: Pool, schema: string, appended: number): Promise<void> {
  if (appended < ANALYZE_AT_LEAST) return;
  const { rows } = await pool.query<{ rows: number }>(`SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = $1::regclass`, [`"${schema}".events`]);
  const known = rows[0]?.rows ?? -1;
  if (known > 0 && appended * 10 < known) return;
  await pool.query(`ANALYZE "${schema}".events`).catch(() => {});
}
