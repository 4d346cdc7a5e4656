import type { StoredEvent } from '../../core/events.js';
import { parseWholeNumber } from '../../core/duration.js';
import type { Context } from '../context.js';
import { afterBatch } from '../heap.js';
import { printable, type Output } from '../output.js';

export interface ReadFlags {
  stream?: string;
  from?: string;
  limit?: string;
  includeSystem?: boolean;
}

/** Events per page: large enough that a page's query costs little, small enough to stay flat. */
const PAGE_SIZE = 1000;

function humanLine(out: Output, event: StoredEvent): string {
  const meta = Object.keys(event.metadata).length > 0 ? ` ${out.color.dim(JSON.stringify(event.metadata))}` : '';
  return (
    `${out.color.dim(String(event.position).padStart(7))}  ${printable(event.streamId)}@${event.version}  ` +
    `${out.color.cyan(printable(event.type))}  ${JSON.stringify(event.data)}${meta}\n`
  );
}

/** Streams the log page by page at the pace of stdout, and stops quietly when the reader has gone. */
export async function read(ctx: Context, flags: ReadFlags) {
  const from = flags.from === undefined ? undefined : parseWholeNumber(flags.from, '--from');
  const limit = flags.limit === undefined ? undefined : parseWholeNumber(flags.limit, '--limit');
  const store = await ctx.openStore();
  const { out } = ctx;
  // --quiet hides result lines, not JSON (as everywhere): nothing to print, nothing to read.
  if (out.quiet && !out.json) return;
  const format = out.json ? (event: StoredEvent) => `${JSON.stringify(event)}\n` : (event: StoredEvent) => humanLine(out, event);
  const sink = out.resultStream();
  for await (const page of store.readPages({ streamId: flags.stream, from, limit, includeSystem: flags.includeSystem }, PAGE_SIZE)) {
    let chunk = '';
    for (const event of page) chunk += format(event);
    if (!(await sink.write(chunk))) return;
    // Parsing every event's data grows V8's string table like a rebuild does; the same pacing keeps it flat.
    afterBatch(page.length);
  }
}
