import { extname } from 'node:path';
import { EsError, isEsError, usage } from '../../core/errors.js';
import type { Context } from '../context.js';
import { formatCount, plural } from '../output.js';
import { csvEvents, ndjsonEvents, type CsvColumns, type ParsedEvent } from '../import-formats.js';
import { decompressed, openInput, readable, textLines } from '../import-input.js';

export interface ImportFlags extends CsvColumns {
  /** commander has checked it is one of these. */
  format?: 'ndjson' | 'csv';
}

function formatOf(file: string, flag: 'ndjson' | 'csv' | undefined): 'ndjson' | 'csv' {
  // `receipt.csv.gz` is CSV: compression is recognised by its magic bytes, the format by the name.
  const name = file.toLowerCase().replace(/\.gz$/, '');
  return flag ?? (extname(name) === '.csv' ? 'csv' : 'ndjson');
}

/** The first batch, read before the store is opened: a bad small file then creates no store. */
async function* withFirst<T>(iterator: AsyncIterator<T>, first: IteratorResult<T>): AsyncGenerator<T> {
  if (first.done) return;
  yield first.value;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
}

/**
 * All or nothing, streamed: events are parsed in batches and appended inside one transaction as
 * they come, so memory stays flat with the input's size; any error rolls the whole file back.
 */
export async function importEvents(ctx: Context, file: string, flags: ImportFlags) {
  const format = formatOf(file, flags.format);
  if (format === 'ndjson' && (flags.streamColumn || flags.typeColumn || flags.idColumn)) {
    throw usage('--stream-column, --type-column and --id-column apply to --format csv');
  }
  // A file can be read again: an import that collided with a concurrent writer (the same file
  // imported twice at once) is run again, and then skips the events the other one stored.
  for (let attempt = 1; ; attempt++) {
    try {
      return await importOnce(ctx, file, format, flags);
    } catch (error) {
      if (file === '-' || attempt >= IMPORT_ATTEMPTS || !isEsError(error) || error.code !== 'CONFLICT') throw error;
    }
  }
}

const IMPORT_ATTEMPTS = 5;

async function importOnce(ctx: Context, file: string, format: 'ndjson' | 'csv', flags: ImportFlags) {
  const name = file === '-' ? 'standard input' : file;
  const text = readable(textLines(decompressed(await openInput(file))), name);
  const batches = (format === 'csv' ? csvEvents(text, flags) : ndjsonEvents(text))[Symbol.asyncIterator]();
  try {
    const first = await batches.next();
    const store = await ctx.openStore(true);
    const started = performance.now();
    let result;
    try {
      result = await store.importEvents(withFirst(batches, first));
    } catch (error) {
      // The store names the event it refused; the line it came from makes the message useful.
      const event = isEsError(error) ? (error.details?.event as ParsedEvent | undefined) : undefined;
      if (isEsError(error) && event?.line !== undefined) {
        throw new EsError(error.code, `line ${event.line}: ${error.message}`);
      }
      throw error;
    }
    const ms = performance.now() - started;
    if (ctx.out.json) ctx.out.data({ ...result, durationMs: Math.round(ms) });
    else {
      const skipped = result.skipped > 0 ? `, ${formatCount(result.skipped)} already stored` : '';
      ctx.out.line(`imported ${plural(result.appended, 'event')}${skipped}`);
    }
  } finally {
    await batches.return?.(undefined);
  }
}
