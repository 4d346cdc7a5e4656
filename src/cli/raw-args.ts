import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { usage } from '../core/errors.js';

/**
 * Node decodes arguments and environment variables as UTF-8 and turns bytes that are not into
 * U+FFFD, silently: `es append s T "$(printf 'x\xff')"` would store "x�" for ever, and a --db with
 * such a byte would create a file of another name. Linux keeps the bytes as given in /proc; check
 * them there (elsewhere, or when /proc cannot be read, nothing is checked).
 */
export function checkRawArguments(env: readonly string[] = ['ES_DB', 'ES_PROJECTIONS']): void {
  const raw = (path: string): Buffer[] | null => {
    try {
      return split(readFileSync(path));
    } catch {
      return null;
    }
  };
  const args = raw('/proc/self/cmdline');
  // node, its own flags and the script come first; es's arguments follow.
  args?.slice(2 + process.execArgv.length).forEach((arg, i) => {
    if (!isUtf8(arg)) throw usage(`argument ${i + 1} is not valid UTF-8 text (${arg.toString('latin1').replace(/[^\x20-\x7e]/g, '?')})`);
  });
  for (const entry of raw('/proc/self/environ') ?? []) {
    const eq = entry.indexOf(0x3d);
    const name = entry.subarray(0, eq).toString('latin1');
    if (eq > 0 && env.includes(name) && !isUtf8(entry.subarray(eq + 1))) throw usage(`${name} is not valid UTF-8 text`);
  }
}

function split(bytes: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0) {
      parts.push(bytes.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < bytes.length) parts.push(bytes.subarray(start));
  return parts;
}
