import { open } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isEsError, usage } from '../core/errors.js';

/** Text of whole lines, in file order; `line` is the number of its first line. */
export interface TextChunk {
  text: string;
  line: number;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const NEWLINE = 0x0a;
/** No event fills a line this long: a file without newlines is not NDJSON or CSV, and must not fill memory. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * The bytes of a file or of standard input (`-`). The file is opened here, so a missing one is
 * reported before anything else happens; read errors surface while iterating.
 */
export async function openInput(file: string): Promise<AsyncIterable<Buffer>> {
  if (file === '-') return process.stdin;
  try {
    const handle = await open(file, 'r');
    return handle.createReadStream({ highWaterMark: 256 * 1024 });
  } catch (error) {
    throw usage(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** The bytes as they come, or decompressed when they start with gzip's magic bytes. */
export async function* decompressed(bytes: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const iterator = bytes[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  while (head.length < GZIP_MAGIC.length) {
    const next = await iterator.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  try {
    if (head[0] !== GZIP_MAGIC[0] || head[1] !== GZIP_MAGIC[1]) {
      yield* all();
      return;
    }
    // pipeline() destroys every stage when one fails or when the consumer stops early.
    const gunzip = pipeline(Readable.from(all()), createGunzip(), () => {});
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
    } catch (error) {
      if (isEsError(error) || !String((error as { code?: unknown }).code).startsWith('Z_')) throw error;
      throw usage(`not a valid gzip file (${(error as Error).message})`);
    }
  } finally {
    // Closes the file (or stops reading stdin) when the import stops early.
    await iterator.return?.();
  }
}

function countLines(bytes: Buffer): number {
  let count = 0;
  for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE, at + 1)) count += 1;
  return count;
}

/** The whole lines before the first line of `bytes` that is not valid UTF-8 (known to exist). */
function linesBeforeBad(bytes: Buffer): Buffer {
  let start = 0;
  for (;;) {
    const newline = bytes.indexOf(NEWLINE, start);
    const end = newline === -1 ? bytes.length : newline + 1;
    if (!isUtf8(bytes.subarray(start, end))) return bytes.subarray(0, start);
    start = end;
  }
}

/**
 * Whole lines of UTF-8 text. Bytes are cut at newlines, which never fall inside a multi-byte
 * character, so each piece can be checked on its own: invalid UTF-8 is refused with its line number
 * instead of being stored as U+FFFD. A leading byte order mark is dropped.
 */
export async function* textLines(bytes: AsyncIterable<Buffer>): AsyncGenerator<TextChunk> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let line = 1;
  let first = true;
  function* emit(piece: Buffer): Generator<TextChunk> {
    if (!isUtf8(piece)) {
      // The good lines first, so that an earlier malformed line is the one reported.
      const before = linesBeforeBad(piece);
      if (before.length > 0) yield* emit(before);
      throw usage(`line ${line}: not valid UTF-8 text (convert the file first, e.g. iconv -f windows-1252 -t utf-8)`);
    }
    let text = piece.toString('utf8');
    if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    first = false;
    yield { text, line };
    line += countLines(piece);
  }
  for await (const chunk of bytes) {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last === -1) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes > MAX_LINE_BYTES) throw usage(`line ${line}: longer than ${MAX_LINE_BYTES / 2 ** 20} MiB without a newline`);
      continue;
    }
    yield* emit(Buffer.concat([...pending, chunk.subarray(0, last + 1)]));
    pending = last + 1 < chunk.length ? [chunk.subarray(last + 1)] : [];
    pendingBytes = chunk.length - (last + 1);
  }
  if (pending.length > 0) yield* emit(Buffer.concat(pending));
}

/** Non-usage errors while reading (EISDIR, EIO) become "cannot read …" usage errors. */
export async function* readable<T>(source: AsyncIterable<T>, name: string): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (error) {
    if (isEsError(error)) throw error;
    throw usage(`cannot read ${name}: ${(error as Error).message}`);
  }
}
