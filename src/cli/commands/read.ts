import { parseWholeNumber } from '../../core/duration.js';
import type { Context } from '../context.js';

export interface ReadFlags {
  stream?: string;
  from?: string;
  limit?: string;
  includeSystem?: boolean;
}

export async function read(ctx: Context, flags: ReadFlags) {
  const from = flags.from === undefined ? undefined : parseWholeNumber(flags.from, '--from');
  const limit = flags.limit === undefined ? undefined : parseWholeNumber(flags.limit, '--limit');
  const store = await ctx.openStore();
  const events = await store.read({ streamId: flags.stream, from, limit, includeSystem: flags.includeSystem });
  const { out } = ctx;
  for (const event of events) {
    if (out.json) {
      process.stdout.write(`${JSON.stringify(event)}\n`);
      continue;
    }
    const meta = Object.keys(event.metadata).length > 0 ? ` ${out.color.dim(JSON.stringify(event.metadata))}` : '';
    out.line(
      `${out.color.dim(String(event.position).padStart(7))}  ${event.streamId}@${event.version}  ` +
        `${out.color.cyan(event.type)}  ${JSON.stringify(event.data)}${meta}`,
    );
  }
}
