import { parse as parseCsv } from 'csv-parse/sync';
import { usage } from '../core/errors.js';
import { isJsonObject, isSystemStream, type NewStreamEvent } from '../core/events.js';

/** An event read from a file, with the line it came from for error messages. */
export interface ParsedEvent extends NewStreamEvent {
  line: number;
}

function lineError(line: number, message: string) {
  return usage(`line ${line}: ${message}`);
}

function checkStream(streamId: unknown, line: number): string {
  if (typeof streamId !== 'string' || streamId.trim() === '') throw lineError(line, 'the stream id is missing or empty');
  if (isSystemStream(streamId)) throw lineError(line, `"${streamId}": streams starting with $ belong to the engine`);
  return streamId;
}

function checkType(type: unknown, line: number): string {
  if (typeof type !== 'string' || type.trim() === '') throw lineError(line, 'the event type is missing or empty');
  return type;
}

/** NDJSON: one `{ streamId, type, data, metadata?, id? }` per line; blank lines are allowed. */
export function parseNdjson(text: string): ParsedEvent[] {
  const events: ParsedEvent[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = index + 1;
    const source = raw.trim();
    if (source === '') return;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (error) {
      throw lineError(line, `invalid JSON (${(error as Error).message})`);
    }
    if (!isJsonObject(value)) throw lineError(line, 'not a JSON object');
    const streamId = checkStream(value.streamId, line);
    const type = checkType(value.type, line);
    const data = value.data ?? {};
    if (!isJsonObject(data)) throw lineError(line, '"data" must be a JSON object');
    const metadata = value.metadata ?? {};
    if (!isJsonObject(metadata)) throw lineError(line, '"metadata" must be a JSON object');
    if (value.id !== undefined && (typeof value.id !== 'string' || value.id === '')) {
      throw lineError(line, '"id" must be a non-empty string');
    }
    events.push({ line, streamId, type, data, metadata, ...(value.id === undefined ? {} : { id: value.id as string }) });
  });
  return events;
}

export interface CsvColumns {
  streamColumn?: string;
  typeColumn?: string;
  idColumn?: string;
}

/** CSV with a header row: two columns name the stream and type, the others become `data`. */
export function parseCsvEvents(text: string, columns: CsvColumns): ParsedEvent[] {
  const { streamColumn, typeColumn, idColumn } = columns;
  if (!streamColumn || !typeColumn) throw usage('CSV import needs --stream-column and --type-column');
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parseCsv(text, { columns: true, bom: true, info: true, skip_empty_lines: true }) as typeof records;
  } catch (error) {
    const where = (error as { lines?: number }).lines;
    const message = (error as Error).message.replace(/^Invalid [^:]*: /, '');
    throw usage(where === undefined ? `invalid CSV: ${message}` : `line ${where}: invalid CSV (${message})`);
  }
  const first = records[0];
  if (first) {
    for (const column of [streamColumn, typeColumn, idColumn]) {
      if (column !== undefined && !(column in first.record)) {
        throw usage(`the CSV header has no column "${column}" (columns: ${Object.keys(first.record).join(', ')})`);
      }
    }
  }
  return records.map(({ record, info }) => {
    const line = info.lines;
    const data: Record<string, string> = {};
    for (const [key, value] of Object.entries(record)) {
      if (key !== streamColumn && key !== typeColumn && key !== idColumn) data[key] = value;
    }
    const id = idColumn === undefined ? undefined : record[idColumn];
    if (idColumn !== undefined && !id) throw lineError(line, `the id column "${idColumn}" is empty`);
    return {
      line,
      streamId: checkStream(record[streamColumn], line),
      type: checkType(record[typeColumn], line),
      data,
      ...(id ? { id } : {}),
    };
  });
}
