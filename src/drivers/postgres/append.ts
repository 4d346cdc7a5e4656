import { randomUUID } from 'node:crypto';
import type { ClientBase } from 'pg';
import { EsError } from '../../core/errors.js';
import { checkNames, isSystemStream, type ExpectedVersion, type NewEvent } from '../../core/events.js';
import type { AppendResult } from '../../ports/event-store.js';
import { checkExpectedVersion } from '../../core/events.js';
import { toNumber } from './rows.js';

/**
 * Thrown when this transaction is older than the one that wrote the stream's last event: appending
 * now would put a later version before an earlier one in commit order. A new transaction (a newer
 * transaction id) succeeds.
 */
export class OlderTransaction extends Error {
  constructor(readonly streamId: string) {
    super(`stream "${streamId}" was last written by a newer transaction than this one; retry in a new transaction`);
  }
}

/** Whether a unique violation is the (stream, version) key: another writer took the version. */
export function isVersionTaken(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string };
  return e.code === '23505' && (e.constraint ?? '').includes('stream_id_version');
}

export function isIdTaken(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string };
  return e.code === '23505' && (e.constraint ?? '').endsWith('_id_key');
}

export interface StreamHead {
  version: number;
  /** The stream's last event came from a transaction newer than the current one. */
  newer: boolean;
}

export async function streamHead(client: ClientBase, schema: string, streamId: string): Promise<StreamHead> {
  const result = await client.query<{ version: number; newer: boolean }>(
    `SELECT e.version, e.transaction_id > "${schema}".es_xact_id() AS newer FROM "${schema}".events e
     WHERE e.stream_id = $1 ORDER BY e.version DESC LIMIT 1`,
    [streamId],
  );
  const row = result.rows[0];
  return { version: row?.version ?? 0, newer: row?.newer ?? false };
}

/**
 * Inserts events at versions after `current`, in the caller's transaction; no checks. With
 * `trimThrough`, the same statement deletes the stream's events up to that version (a checkpoint
 * stream keeps only its last few): one round trip less per batch.
 */
export async function insertEvents(
  client: ClientBase,
  schema: string,
  streamId: string,
  current: number,
  events: readonly NewEvent[],
  trimThrough = 0,
): Promise<AppendResult> {
  const ids: string[] = [];
  const versions: number[] = [];
  const types: string[] = [];
  const data: string[] = [];
  const metadata: string[] = [];
  events.forEach((event, i) => {
    ids.push(event.id ?? randomUUID());
    versions.push(current + i + 1);
    types.push(event.type);
    data.push(JSON.stringify(event.data ?? {}));
    metadata.push(JSON.stringify(event.metadata ?? {}));
  });
  const result = await client.query<{ position: string }>(
    `WITH added AS (
       INSERT INTO "${schema}".events (id, stream_id, version, type, data, metadata, system)
       SELECT w.id, $2, w.version, w.type, w.data, w.metadata, $7
       FROM unnest($1::text[], $3::int[], $4::text[], $5::json[], $6::json[]) AS w(id, version, type, data, metadata)
       ORDER BY w.version
       RETURNING position)${trimThrough > 0 ? `, trimmed AS (DELETE FROM "${schema}".events t WHERE t.stream_id = $2 AND t.version <= $8)` : ''}
     SELECT max(added.position) AS position FROM added`,
    [ids, streamId, versions, types, data, metadata, isSystemStream(streamId), ...(trimThrough > 0 ? [trimThrough] : [])],
  );
  return { position: toNumber(result.rows[0]?.position), version: current + events.length };
}

/**
 * Appends to a user stream inside the caller's open transaction: checks the expected version and
 * that no newer transaction wrote the stream, then inserts and notifies followers (on commit).
 */
export async function appendInTransaction(
  client: ClientBase,
  schema: string,
  streamId: string,
  events: readonly NewEvent[],
  expected: ExpectedVersion,
): Promise<AppendResult> {
  if (events.length === 0) throw new EsError('USAGE', 'nothing to append');
  for (const event of events) checkNames(streamId, event.type, event.id);
  const head = await streamHead(client, schema, streamId);
  checkExpectedVersion(streamId, head.version, expected);
  if (head.newer) throw new OlderTransaction(streamId);
  const appended = await insertEvents(client, schema, streamId, head.version, events);
  await client.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, schema]);
  return appended;
}

/** Appends wake `--follow` runners through this channel; the payload is the schema. */
export const NOTIFY_CHANNEL = 'es_events';
