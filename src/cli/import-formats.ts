import { Readable, pipeline } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import { isEsError, usage } from '../core/errors.js';
import { checkNames, isJsonObject, isSystemStream, type NewStreamEvent } from '../core/events.js';
import { MAX_LINE_BYTES, type TextChunk } from './import-input.js';

/** An event read from a file, with the line it came from for error messages. */
export interface ParsedEvent extends NewStreamEvent {
  line: number;
}

/** Events handed to the store at a time: small enough to keep memory flat, large enough to be cheap. */
const BATCH = 1000;

function lineError(line: number, message: string) {
  return usage(`line ${line}: ${message}`);
}

function checkEvent(streamId: unknown, type: unknown, line: number): { streamId: string; type: string } {
  if (typeof streamId !== 'string' || streamId.trim() === '') throw lineError(line, 'the stream id is missing or empty');
  if (typeof type !== 'string' || type.trim() === '') throw lineError(line, 'the event type is missing or empty');
  try {
    checkNames(streamId, type);
  } catch (error) {
    throw lineError(line, (error as Error).message);
  }
  if (isSystemStream(streamId)) throw lineError(line, `"${streamId}": streams starting with $ belong to the engine`);
  return { streamId, type };
}

function ndjsonLine(raw: string, line: number): ParsedEvent | undefined {
  const source = raw.trim();
  if (source === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    throw lineError(line, `invalid JSON (${(error as Error).message})`);
  }
  if (!isJsonObject(value)) throw lineError(line, 'not a JSON object');
  const { streamId, type } = checkEvent(value.streamId, value.type, line);
  const data = value.data ?? {};
  if (!isJsonObject(data)) throw lineError(line, '"data" must be a JSON object');
  const metadata = value.metadata ?? {};
  if (!isJsonObject(metadata)) throw lineError(line, '"metadata" must be a JSON object');
  if (value.id !== undefined && (typeof value.id !== 'string' || value.id === '')) {
    throw lineError(line, '"id" must be a non-empty string');
  }
  if (value.id !== undefined) {
    try {
      checkNames(streamId, type, value.id as string);
    } catch (error) {
      throw lineError(line, (error as Error).message);
    }
  }
  return { line, streamId, type, data, metadata, ...(value.id === undefined ? {} : { id: value.id as string }) };
}

/** NDJSON: one `{ streamId, type, data, metadata?, id? }` per line; blank lines are allowed. */
export async function* ndjsonEvents(chunks: AsyncIterable<TextChunk>): AsyncGenerator<ParsedEvent[]> {
  for await (const { text, line } of chunks) {
    const events: ParsedEvent[] = [];
    text.split('\n').forEach((raw, index) => {
      const event = ndjsonLine(raw, line + index);
      if (event) events.push(event);
    });
    if (events.length > 0) yield events;
  }
}

export interface CsvColumns {
  streamColumn?: string;
  typeColumn?: string;
  idColumn?: string;
}

/** Refuses a header without the named columns, or with a name twice (one value would be lost). */
function checkHeader(names: string[], columns: CsvColumns): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw usage(`line 1: the CSV header has the column "${name}" twice`);
    seen.add(name);
  }
  for (const column of [columns.streamColumn, columns.typeColumn, columns.idColumn]) {
    if (column !== undefined && !seen.has(column)) {
      throw usage(`the CSV header has no column "${column}" (columns: ${names.join(', ')})`);
    }
  }
}

function csvEvent(record: Record<string, string>, line: number, columns: CsvColumns): ParsedEvent {
  const { streamColumn, typeColumn, idColumn } = columns;
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(record)) {
    if (key !== streamColumn && key !== typeColumn && key !== idColumn) data[key] = value;
  }
  const id = idColumn === undefined ? undefined : record[idColumn];
  if (idColumn !== undefined && !id) throw lineError(line, `the id column "${idColumn}" is empty`);
  return { line, ...checkEvent(record[streamColumn!], record[typeColumn!], line), data, ...(id ? { id } : {}) };
}

function csvError(error: unknown, lastLine: number, maxRecord: number): unknown {
  if (isEsError(error) || (error as { code?: unknown }).code === undefined) return error;
  if ((error as { code?: unknown }).code === 'CSV_MAX_RECORD_SIZE') {
    const size = maxRecord >= 2 ** 20 ? `${maxRecord / 2 ** 20} MiB` : `${maxRecord} characters`;
    return usage(`line ${lastLine + 1}: this CSV record runs over ${size} (a quote left open?)`);
  }
  const where = (error as { lines?: number }).lines;
  const message = (error as Error).message.replace(/^Invalid [^:]*: /, '');
  return usage(where === undefined ? `invalid CSV: ${message}` : `line ${where}: invalid CSV (${message})`);
}

async function* texts(chunks: AsyncIterable<TextChunk>): AsyncGenerator<string> {
  for await (const chunk of chunks) yield chunk.text;
}

/** CSV with a header row: two columns name the stream and type, the others become `data`. */
export async function* csvEvents(chunks: AsyncIterable<TextChunk>, columns: CsvColumns, maxRecord = MAX_LINE_BYTES): AsyncGenerator<ParsedEvent[]> {
  if (!columns.streamColumn || !columns.typeColumn) throw usage('CSV import needs --stream-column and --type-column');
  let header = false;
  // The last line of the last whole record, as the parser finds it (records reach the loop later).
  let lastLine = 1;
  const parser = parseCsv({
    bom: true,
    info: true,
    skip_empty_lines: true,
    // An unclosed quote would otherwise gather the rest of the file into one field, in memory.
    max_record_size: maxRecord,
    on_record: (record: unknown, context: { lines: number }) => {
      lastLine = context.lines;
      return record;
    },
    // Called with the header even when no row follows, so a wrong column name is never accepted.
    columns: (names: string[]) => {
      checkHeader(names, columns);
      header = true;
      return names;
    },
  });
  const records = pipeline(Readable.from(texts(chunks)), parser, () => {}) as AsyncIterable<{
    record: Record<string, string>;
    info: { lines: number };
  }>;
  let batch: ParsedEvent[] = [];
  try {
    for await (const { record, info } of records) {
      batch.push(csvEvent(record, info.lines, columns));
      if (batch.length >= BATCH) {
        yield batch;
        batch = [];
      }
    }
  } catch (error) {
    throw csvError(error, lastLine, maxRecord);
  }
  if (batch.length > 0) yield batch;
  if (!header) throw usage('the CSV input is empty: it needs a header row naming its columns');
}
