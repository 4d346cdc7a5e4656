// `npm run build`: type-checks the sources and writes their declarations with tsc, then bundles the
// JavaScript with esbuild. Bundling is for start-up time: Node's ES module loader pays for every file
// it resolves, reads and links, and a command such as `es project status` spent more time loading
// some thirty modules than doing its work. The library (dist/index.js) and the CLI (dist/cli/main.js)
// are bundled apart: a projection file that imports `es` while the CLI runs loads the library's one
// file beside it. Nothing depends on the two sharing module instances (see isEsError).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
const common = { absWorkingDir: root, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' };
// The library: what `import … from 'es'` loads, for applications and for projection files.
await build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/index.js', packages: 'external' });
// The CLI: one file with commander inside, since every command needs it. Packages that load on
// demand (the driver's addon, tsx, chalk, ora, csv-parse) stay external. commander is CommonJS, so the
// bundle gets a `require` of its own for the Node built-ins commander asks for.
const cliExternal = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies).filter((name) => name !== 'commander');
await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli/main.js',
  external: cliExternal.flatMap((name) => [name, `${name}/*`]),
  banner: { js: "import { createRequire as esCreateRequire } from 'node:module';\nconst require = esCreateRequire(import.meta.url);" },
});
