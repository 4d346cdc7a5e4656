// `npm run build`: type-checks the sources and writes their declarations with tsc, then bundles the
// JavaScript with esbuild. Bundling is for start-up time: Node's ES module loader pays for every file
// it resolves, reads and links, and a command such as `es project status` spent more time loading
// some thirty modules than doing its work. The library (dist/index.js) and the CLI (dist/cli/main.js)
// are bundled apart: a projection file that imports `es` while the CLI runs loads the library's one
// file beside it. Nothing depends on the two sharing module instances (see isEsError).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
// Source maps for `node --enable-source-maps`; Node ignores them otherwise, at no cost.
const common = { absWorkingDir: root, bundle: true, format: 'esm', platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning' };
// The library: what `import … from 'catchup-projections'` loads, for applications and for projection files.
await build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/index.js', packages: 'external' });
// The CLI: one file with commander and csv-parse inside. An external package imported statically
// would load at every start, wherever the import sits in the bundle, while bundled code that only a
// lazily imported command uses runs only when that command does. Packages the code imports lazily
// (tsx, chalk, ora) and the driver (a native addon) stay external, and so do the optional peer
// dependencies (the other drivers and the broker clients): they are the user's to install, and
// are found in the user's node_modules when a command needs one. commander is CommonJS, so the
// bundle gets a `require` of its own for the Node built-ins commander asks for.
const BUNDLED = new Set(['commander', 'csv-parse']);
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const cliExternal = [...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies ?? {})].filter((name) => !BUNDLED.has(name));
await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli/main.js',
  external: cliExternal.flatMap((name) => [name, `${name}/*`]),
  banner: { js: "import { createRequire as esCreateRequire } from 'node:module';\nconst require = esCreateRequire(import.meta.url);" },
});
