import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * One line saying where and why a projection file failed to load: `file:line:column: cannot load
 * projection: message`. The raw errors hide both: tsx puts esbuild's located errors below a
 * "Transform failed with 1 error:" headline, and V8 keeps the location of an ES module's syntax
 * error out of the error object (Node prints it only for an uncaught error).
 */
export function describeLoadError(file: string, error: unknown): string {
  const err = error instanceof Error ? error : new Error(String(error));
  const transform = /^Transform failed with (\d+) errors?:\n(.+?):(\d+):(\d+): ERROR: (.*)$/m.exec(err.message);
  if (transform) {
    const [, count, where, line, column, text] = transform;
    const more = Number(count) > 1 ? ` (and ${Number(count) - 1} more)` : '';
    // esbuild counts columns from 0; editors and V8 count from 1.
    // tsx names .mts and .cts sources as .ts: the projection file itself, under its real name.
    const named = (where ?? file).replace(/\.ts$/, '') === file.replace(/\.[cm]?ts$/, '') ? file : where;
    return `${named}:${line}:${Number(column) + 1}: cannot load projection: ${text}${more}`;
  }
  const what = `${err.name === 'Error' || err.message.startsWith(`${err.name}:`) ? '' : `${err.name}: `}${firstLine(err.message)}`;
  const javascript = /\.[cm]?js$/.test(file);
  const at = err.name === 'SyntaxError' ? (javascript && syntaxErrorAt(file)) || '' : (thrownAt(file, err.stack) ?? '');
  // Node reads a .js file as CommonJS unless its package says "type": "module".
  const hint =
    /\.js$/.test(file) && /Unexpected token 'export'|Cannot use import statement outside a module/.test(err.message)
      ? ' (a .js file is CommonJS in a package without "type": "module": name it .mjs, or use module.exports)'
      : '';
  return `${file}${at}: cannot load projection: ${what}${hint}`;
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? text
  );
}

/** `:line:column` of the first stack frame in the file itself (a throw at the module's top level). */
function thrownAt(file: string, stack: string | undefined): string | undefined {
  // ES modules' frames name a file: URL; CommonJS frames name the path.
  const url = pathToFileURL(file).href;
  for (const match of (stack ?? '').matchAll(/((?:file:\/\/)?\/[^\s()?]+)(?:\?[^\s():]*)?:(\d+):(\d+)/g)) {
    const where = match[1]!;
    if (where === file || where === url || (where.startsWith('file:') && safePath(where) === file)) return `:${match[2]}:${match[3]}`;
  }
  return undefined;
}

function safePath(url: string): string | undefined {
  try {
    return fileURLToPath(url);
  } catch {
    return undefined;
  }
}

/**
 * `:line:column` of a JavaScript syntax error, from `node --check`, which prints the file and line,
 * the source line, and a caret under the column. Paid only when a file fails to parse. Undefined when the file itself parses (the error is
 * in a module it imports, or in an import it names).
 */
function syntaxErrorAt(file: string): string | undefined {
  const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
  // The caret is missing when the input ends early; the blanks before it still give the column.
  const match = /^\S.*:(\d+)\n.*\n([ \t]*)(?:\^|\n)/.exec(check.stderr ?? '');
  return match ? `:${match[1]}:${match[2]!.length + 1}` : undefined;
}
