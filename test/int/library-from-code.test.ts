import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defineProjection, openStore, rebuildProjection, runProjection } from '../../src/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const work = mkdtempSync(join(tmpdir(), 'es-library-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A user's program: a projection from defineProjection, run on the store openStore gives, no options. */
const PROGRAM = `import { defineProjection, openStore, runProjection, type EventStore } from 'catchup-projections';
import type Database from 'better-sqlite3';

const orders = defineProjection<Database.Database>({
  name: 'orders',
  setup(db) {
    db.exec('CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY)');
  },
  handlers: {
    OrderPlaced(event, db) {
      db.prepare('INSERT OR IGNORE INTO orders VALUES (?)').run(event.streamId);
    },
  },
});
const store = await openStore('sqlite:events.db', { create: true });
const asTyped: EventStore<unknown> = store;
const result = await runProjection(asTyped, orders);
const again = await runProjection(store, orders, { onError: 'skip' });
console.log(result.state, again.state);
await store.close();
`;

describe('the library from code', () => {
  it('runProjection takes what defineProjection returns and the store openStore gives, under strict and exactOptionalPropertyTypes', () => {
    const app = join(work, 'app');
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    // The package as a user's project sees it: its package.json, its shipped declarations (dist/).
    symlinkSync(ROOT, join(app, 'node_modules', 'catchup-projections'), 'dir');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(app, 'main.ts'), PROGRAM);
    const compilerOptions = {
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      target: 'ES2022',
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['main.ts'] }));
    const tsc = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8', timeout: 120_000 });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  }, 150_000);

  it('runs a defineProjection value with the default batch size, and refuses one without a name', async () => {
    const store = await openStore(`sqlite:${join(work, 'run.db')}`, { create: true });
    try {
      await store.append(
        'order-1',
        [
          { type: 'OrderPlaced', data: {} },
          { type: 'OrderPlaced', data: {} },
        ],
        'no-stream',
      );
      const seen: number[] = [];
      const counter = defineProjection({ name: 'counter', reset() {}, handlers: { OrderPlaced: (event) => void seen.push(event.position) } });
      const result = await runProjection(store, counter);
      expect(result).toMatchObject({ name: 'counter', state: 'up-to-date', processed: 2 });
      expect((await rebuildProjection(store, counter)).processed).toBe(2);
      expect(seen).toHaveLength(4);
      const error = await runProjection(store, defineProjection({ handlers: { OrderPlaced() {} } })).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'USAGE', message: 'a projection defined in code needs a name' });
    } finally {
      await store.close();
    }
  });
});
