import type { ClientBase } from 'pg';
import { EsError } from '../../core/errors.js';
import type { JsonObject, NewStreamEvent } from '../../core/events.js';
import type { ImportResult } from '../../ports/event-store.js';
import { NOTIFY_CHANNEL, OlderTransaction, insertEvents, streamHead } from './append.js';

/** JSON with object keys sorted, so two encodings of the same value compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as JsonObject).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

interface StoredById {
  id: string;
  stream_id: string;
  type: string;
  data: string;
  metadata: string;
}

/**
 * Appends events of many streams in the caller's transaction. An id stored already is skipped when
 * the event is the same and refused when it differs, as on SQLite. Runs of one stream go in one insert.
 */
export async function importInTransaction(client: ClientBase, schema: string, events: readonly NewStreamEvent[]): Promise<ImportResult> {
  const ids = events.flatMap((event) => (event.id === undefined ? [] : [event.id]));
  const stored = new Map<string, StoredById>();
  if (ids.length > 0) {
    const { rows } = await client.query<StoredById>(
      `SELECT e.id, e.stream_id, e.type, e.data::text AS data, e.metadata::text AS metadata FROM "${schema}".events e WHERE e.id = ANY($1::text[])`,
      [ids],
    );
    for (const row of rows) stored.set(row.id, row);
  }
  const seen = new Map<string, NewStreamEvent>();
  const versions = new Map<string, number>();
  let appended = 0;
  let skipped = 0;
  let lastPosition: number | null = null;
  let run: NewStreamEvent[] = [];
  const flush = async (): Promise<void> => {
    const first = run[0];
    if (!first) return;
    let current = versions.get(first.streamId);
    if (current === undefined) {
      const head = await streamHead(client, schema, first.streamId);
      if (head.newer) throw new OlderTransaction(first.streamId);
      current = head.version;
    }
    const result = await insertEvents(client, schema, first.streamId, current, run);
    versions.set(first.streamId, result.version);
    lastPosition = result.position;
    appended += run.length;
    run = [];
  };
  for (const [index, event] of events.entries()) {
    if (event.id !== undefined) {
      const earlier = stored.get(event.id);
      const before = seen.get(event.id);
      const same = earlier
        ? earlier.stream_id === event.streamId &&
          earlier.type === event.type &&
          canonical(JSON.parse(earlier.data)) === canonical(event.data ?? {}) &&
          canonical(JSON.parse(earlier.metadata)) === canonical(event.metadata ?? {})
        : before
          ? before.streamId === event.streamId &&
            before.type === event.type &&
            canonical(before.data ?? {}) === canonical(event.data ?? {}) &&
            canonical(before.metadata ?? {}) === canonical(event.metadata ?? {})
          : null;
      if (same === false) {
        throw new EsError('USAGE', `event id "${event.id}" is stored already with different content`, { details: { index } });
      }
      if (same === true) {
        skipped += 1;
        continue;
      }
      seen.set(event.id, event);
    }
    if (run.length > 0 && (run[0] as NewStreamEvent).streamId !== event.streamId) await flush();
    run.push(event);
  }
  await flush();
  if (appended > 0) await client.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, schema]);
  return { appended, skipped, lastPosition };
}
