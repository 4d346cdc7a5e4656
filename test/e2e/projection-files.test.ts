import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ES_BIN, baseEnv, cleanupTempDirs, es, letNobodyRunEs, parseJson, tempDir, writeFile } from './helpers.js';

afterAll(cleanupTempDirs);

/** A file that fails the whole command if it is ever loaded as a projection. */
const NOT_TO_LOAD = "throw new Error('this file must not be loaded as a projection');\n";
const projection = (name: string) => `export default { name: '${name}', handlers: { A() {} } };\n`;

function listed(dir: string): string[] {
  const r = es(dir, ['project', 'list', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return parseJson(r.stdout).projections.map((p: { name: string }) => p.name);
}

/** Runs `es project list` in a folder holding one projection file, and returns the result. */
function listOne(file: string, text: string, extra: string[] = []) {
  const dir = tempDir('es-projfile-');
  writeFile(dir, `projections/${file}`, text);
  return { dir, r: es(dir, ['project', 'list', ...extra]) };
}

describe('which files in the projections folder are projections', () => {
  it('loads .ts .mts .cts .js .mjs .cjs; skips _helpers, declarations, tests, dotfiles, subfolders and other files', () => {
    const dir = tempDir('es-projfiles-');
    writeFile(dir, 'projections/_money.mjs', 'export const cents = (n) => n * 100;\n');
    writeFile(dir, 'projections/a-ts.ts', "const n: number = 1;\nexport default { name: 'a-ts', version: n, handlers: { A() {} } };\n");
    writeFile(dir, 'projections/b-mts.mts', projection('b-mts'));
    writeFile(dir, 'projections/c-cts.cts', projection('c-cts'));
    writeFile(dir, 'projections/d-js.js', "module.exports = { name: 'd-js', handlers: { A() {} } };\n");
    writeFile(
      dir,
      'projections/e-mjs.mjs',
      "import { cents } from './_money.mjs';\nexport default { name: 'e-mjs', version: cents(1) / 100, handlers: { A() {} } };\n",
    );
    writeFile(dir, 'projections/f-cjs.cjs', "module.exports = { name: 'f-cjs', handlers: { A() {} } };\n");
    for (const file of [
      'types.d.ts',
      'types.d.mts',
      'types.d.cts',
      'e-mjs.test.mjs',
      'a-ts.spec.ts',
      'a-ts.test.ts',
      '.hidden.mjs',
      '_setup.ts',
      'sub/g.mjs',
    ]) {
      writeFile(dir, `projections/${file}`, NOT_TO_LOAD);
    }
    writeFile(dir, 'projections/README.md', '# not code\n');
    writeFile(dir, 'projections/shape.json', '{}\n');
    mkdirSync(join(dir, 'projections', 'folder.mjs'));
    expect(listed(dir)).toEqual(['a-ts', 'b-mts', 'c-cts', 'd-js', 'e-mjs', 'f-cjs']);
  });

  it('a helper without a default export, or whose default export is no projection, is exit 3 saying helpers start with _', () => {
    for (const [file, text, why] of [
      ['money.mjs', 'export const cents = (n) => n * 100;\n', 'no default export'],
      ['format.ts', 'export default function format(n: number): string { return String(n); }\n', 'the default export is not an object'],
      ['table.mjs', "export default { table: 'orders' };\n", 'handlers must be'],
    ] as const) {
      const { r } = listOne(file, text);
      expect(r.code, file).toBe(3);
      expect(r.stderr.trim().split('\n'), file).toHaveLength(1);
      expect(r.stderr).toContain(`${file}: invalid projection: ${why}`);
      expect(r.stderr).toMatch(/helper module .* must have a name starting with "_"/);
    }
  });

  it('a projection with handlers but a mistake in it gets no helper hint', () => {
    const { r } = listOne('orders.mjs', 'export default { version: 0, handlers: { A() {} } };\n');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/orders\.mjs: invalid projection: version must be/);
    expect(r.stderr).not.toMatch(/helper/);
  });
});

describe('projections in a package of "type": "commonjs" (what npm init writes)', () => {
  it('a .ts projection imports its _helper.ts as ./_helper.js; a .js with export default gets a hint', () => {
    const dir = tempDir('es-cjs-');
    writeFile(dir, 'package.json', JSON.stringify({ name: 'shop', version: '1.0.0', type: 'commonjs' }));
    writeFile(dir, 'projections/_money.ts', 'export function cents(n: number): string { return (n / 100).toFixed(2); }\n');
    writeFile(
      dir,
      'projections/order-totals.ts',
      "import { cents } from './_money.js';\nexport default { name: 'order-totals', handlers: { A() { cents(1); } } };\n",
    );
    const r = es(dir, ['project', 'list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(parseJson(r.stdout)).toMatchObject({ projections: [{ name: 'order-totals' }] });
    writeFile(dir, 'projections/plain.js', projection('plain'));
    const js = es(dir, ['project', 'list']);
    expect(js.code).toBe(3);
    expect(js.stderr).toMatch(/plain\.js.*name it \.mjs, or use module\.exports/);
  });
});

describe('a projection file that fails to load: file, line, column and the message, on one line, exit 3', () => {
  const broken = 'export default {\n  name: "x",\n  handlers: { A(e, db) { let x = ; } },\n};\n';

  it('a TypeScript syntax error', () => {
    for (const extra of [[], ['--verbose']]) {
      const { dir, r } = listOne('bad.ts', broken, extra);
      expect(r.code).toBe(3);
      const [first, ...rest] = r.stderr.trim().split('\n');
      expect(first).toBe(`es: ${join(dir, 'projections', 'bad.ts')}:3:34: cannot load projection: Unexpected ";"`);
      if (extra.length === 0) expect(rest).toEqual([]);
      expect(r.stderr).not.toContain('Transform failed');
    }
    // .mts and .cts are named as they are, not as the .ts tsx compiles them under.
    for (const file of ['bad.mts', 'bad.cts']) {
      const { dir, r } = listOne(file, broken, []);
      expect(r.stderr.trim()).toBe(`es: ${join(dir, 'projections', file)}:3:34: cannot load projection: Unexpected ";"`);
    }
  });

  it('a JavaScript syntax error, in ES module and CommonJS files', () => {
    for (const file of ['bad.mjs', 'bad.cjs', 'bad.js']) {
      const { dir, r } = listOne(file, broken.replace('export default', 'module.exports ='));
      expect(r.code, file).toBe(3);
      expect(r.stderr, file).toBe(`es: ${join(dir, 'projections', file)}:3:34: cannot load projection: SyntaxError: Unexpected token ';'\n`);
    }
  });

  it('an error thrown while a JavaScript module loads names its line', () => {
    for (const [file, exported] of [
      ['throws.mjs', 'export default'],
      ['throws.cjs', 'module.exports ='],
    ] as const) {
      const { dir, r } = listOne(file, `const a = 1;\n  notDefined.x();\n${exported} { handlers: { A() {} } };\n`);
      expect(r.code, file).toBe(3);
      expect(r.stderr).toBe(`es: ${join(dir, 'projections', file)}:2:3: cannot load projection: ReferenceError: notDefined is not defined\n`);
    }
  });

  it('an unreadable projections folder is exit 3 with the cause', () => {
    const dir = tempDir('es-eacces-');
    writeFile(dir, 'projections/p.mjs', projection('p'));
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'projections'), 0o000);
    try {
      // root reads any folder: run es as nobody there, as an unprivileged user runs it.
      const asRoot = process.getuid?.() === 0;
      letNobodyRunEs();
      const r = spawnSync(process.execPath, [ES_BIN, 'project', 'list'], {
        cwd: dir,
        env: baseEnv(),
        encoding: 'utf8',
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      });
      expect(r.stderr).toBe('es: cannot read the projections folder ./projections: permission denied (EACCES)\n');
      expect(r.status).toBe(3);
    } finally {
      chmodSync(join(dir, 'projections'), 0o755);
    }
  });
});
