import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { EsError, usage } from '../../core/errors.js';
import type { Context } from '../context.js';
import { plural } from '../output.js';
import { parseCsvEvents, parseNdjson, type CsvColumns, type ParsedEvent } from '../import-formats.js';

export interface ImportFlags extends CsvColumns {
  format?: string;
}

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw usage(`cannot read ${file === '-' ? 'standard input' : file}: ${(error as Error).message}`);
  }
}

function formatOf(file: string, flag: string | undefined): 'ndjson' | 'csv' {
  const format = flag ?? (extname(file).toLowerCase() === '.csv' ? 'csv' : 'ndjson');
  if (format !== 'ndjson' && format !== 'csv') throw usage(`--format: "${format}" is not ndjson or csv`);
  return format;
}

/** All or nothing: the whole file is parsed and checked before one transaction stores it. */
export async function importEvents(ctx: Context, file: string, flags: ImportFlags) {
  const format = formatOf(file, flags.format);
  if (format === 'ndjson' && (flags.streamColumn || flags.typeColumn || flags.idColumn)) {
    throw usage('--stream-column, --type-column and --id-column apply to --format csv');
  }
  const text = readInput(file);
  const events: ParsedEvent[] = format === 'csv' ? parseCsvEvents(text, flags) : parseNdjson(text);
  const store = await ctx.openStore(true);
  const started = performance.now();
  let result;
  try {
    result = await store.appendMany(events.map(({ line: _line, ...event }) => event));
  } catch (error) {
    const index = (error as EsError).details?.index;
    if (typeof index === 'number' && error instanceof EsError) {
      throw new EsError(error.code, `line ${events[index]?.line ?? '?'}: ${error.message}`);
    }
    throw error;
  }
  const ms = performance.now() - started;
  if (ctx.out.json) ctx.out.data({ ...result, durationMs: Math.round(ms) });
  else {
    const skipped = result.skipped > 0 ? `, ${result.skipped} already stored` : '';
    ctx.out.line(`imported ${plural(result.appended, 'event')}${skipped}`);
  }
}
