#!/usr/bin/env node
// Starts the CLI, nothing else. The TypeScript sources are compiled to dist/ by `npm install`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('es: dist/ is missing; run `npm install` (or `npm run build`) first\n');
  process.exit(3);
}
const { main } = await import(entry.href);
const code = await main(process.argv);
process.exitCode = code;
// Exit once stdout and stderr have drained: a pipe takes large output asynchronously, and a
// --follow run may leave an idle timer behind.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
