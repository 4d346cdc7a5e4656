/**
 * Large events through the CLI: batches and read pages bounded by bytes keep memory flat, so a heap
 * too small for a thousand 2 MB events at once (the count bound alone) still runs and reads them;
 * an event too large for the process is refused with one line and exit 3, not an abort.
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, es, tempDir, writeFile } from './helpers.js';
import { freshPgStore, pgServerUrl, untilVisible } from '../support/pg.js';

const MB = 2 ** 20;
const COUNT = 60;
// 60 events of 2 MB: the unbounded batch and page took over 200 MB of heap and aborted under this.
const SMALL_HEAP = { NODE_OPTIONS: '--max-old-space-size=128' };
// A quarter of a 96 MB heap is under 40 MB: that event is refused.
const TINY_HEAP = { NODE_OPTIONS: '--max-old-space-size=96' };

/** An NDJSON file of `count` events whose data holds `mb` megabytes; written a line at a time. */
async function writeLog(dir: string, count: number, mb: number): Promise<void> {
  const out = createWriteStream(join(dir, 'big.ndjson'));
  const blob = 'x'.repeat(mb * MB);
  for (let i = 0; i < count; i++) {
    const line = `${JSON.stringify({ id: `big-${i + 1}`, streamId: `s-${i % 7}`, type: 'Big', data: { n: i + 1, blob } })}\n`;
    if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  out.end();
  await finished(out);
}

const sqliteProjection = `export default {
  name: 'sizes',
  setup(db) { db.exec('CREATE TABLE IF NOT EXISTS sizes (position INTEGER PRIMARY KEY, bytes INTEGER NOT NULL)'); },
  reset(db) { db.exec('DELETE FROM sizes'); },
  handlers: { Big(event, db) { db.prepare('INSERT INTO sizes VALUES (?, ?)').run(event.position, event.data.blob.length); } },
};
`;

const pgProjection = (schema: string) => `export default {
  name: 'sizes',
  async setup(db) { await db.query('CREATE TABLE IF NOT EXISTS "${schema}".sizes (position bigint PRIMARY KEY, bytes int NOT NULL)'); },
  async reset(db) { await db.query('DELETE FROM "${schema}".sizes'); },
  handlers: { async Big(event, db) { await db.query('INSERT INTO "${schema}".sizes VALUES ($1, $2)', [event.position, event.data.blob.length]); } },
};
`;

interface Workspace {
  dir: string;
  /** The projection's table, in position order. */
  sizes: () => Promise<number[]>;
  /** Waits until what was imported can be read (PostgreSQL: no older transaction in flight holds it back). */
  visible: () => Promise<void>;
}

/** The checks both stores pass. */
function largeEventChecks(workspace: (projection: 'sqlite' | 'pg') => Promise<Workspace>, kind: 'sqlite' | 'pg') {
  it(`runs and reads ${COUNT} events of 2 MB in a heap that cannot hold them all at once`, async () => {
    const { dir, sizes, visible } = await workspace(kind);
    await writeLog(dir, COUNT, 2);
    const imported = es(dir, ['import', 'big.ndjson'], { timeoutMs: 180_000 });
    expect(imported.code, imported.stderr).toBe(0);
    await visible();

    const run = es(dir, ['project', 'run', '--json'], { env: SMALL_HEAP, timeoutMs: 180_000 });
    expect(run.signal, run.stderr.slice(0, 300)).toBeNull();
    expect(run.code, run.stderr.slice(0, 300)).toBe(0);
    expect(await sizes()).toEqual(Array.from({ length: COUNT }, () => 2 * MB));

    const read = es(dir, ['read', '--json'], { env: SMALL_HEAP, stdoutToFile: true, timeoutMs: 180_000 });
    expect(read.signal, read.stderr.slice(0, 300)).toBeNull();
    expect(read.code, read.stderr.slice(0, 300)).toBe(0);
    const lines = read.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(COUNT);
    expect(lines.map((line) => (JSON.parse(line) as { data: { n: number; blob: string } }).data)).toEqual(
      Array.from({ length: COUNT }, (_, i) => ({ n: i + 1, blob: expect.stringMatching(/^x{2097152}$/) as unknown })),
    );
  }, 600_000);

  it('refuses an event larger than a quarter of the heap with one line and exit 3, and runs nothing', async () => {
    const { dir, sizes, visible } = await workspace(kind);
    await writeLog(dir, 1, 40);
    expect(es(dir, ['import', 'big.ndjson'], { timeoutMs: 120_000 }).code).toBe(0);
    await visible();
    for (const args of [
      ['project', 'run'],
      ['read', '--json'],
    ]) {
      const r = es(dir, args, { env: TINY_HEAP, timeoutMs: 120_000 });
      expect(r.signal, args.join(' ')).toBeNull();
      expect(r.code, `${args.join(' ')}: ${r.stderr.slice(0, 300)}`).toBe(3);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/event at position 1 is too large to load: 40\.0 MB .*--max-old-space-size/);
    }
    expect(await sizes()).toEqual([]);
  }, 300_000);
}

afterAll(cleanupTempDirs);

describe('large events on SQLite', () => {
  largeEventChecks(async () => {
    const dir = tempDir('es-large-');
    writeFile(dir, 'es.config.json', JSON.stringify({ db: 'events.db' }));
    writeFile(dir, 'projections/sizes.mjs', sqliteProjection);
    const sizes = async (): Promise<number[]> => {
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(join(dir, 'events.db'), { readonly: true });
      try {
        const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sizes'").get();
        return hasTable ? (db.prepare('SELECT bytes FROM sizes ORDER BY position').pluck().all() as number[]) : [];
      } finally {
        db.close();
      }
    };
    return { dir, sizes, visible: async () => {} };
  }, 'sqlite');
});

describe('large events on PostgreSQL', () => {
  const schemas: ReturnType<typeof freshPgStore>[] = [];
  let admin: pg.Pool;
  beforeAll(() => {
    admin = new pg.Pool({ connectionString: pgServerUrl(), max: 2 });
  });
  afterAll(async () => {
    for (const fresh of schemas) await fresh.drop().catch(() => {});
    await admin.end();
  });
  largeEventChecks(async () => {
    const fresh = freshPgStore();
    schemas.push(fresh);
    const dir = tempDir('es-large-pg-');
    writeFile(dir, 'es.config.json', JSON.stringify({ db: fresh.url }));
    writeFile(dir, 'projections/sizes.mjs', pgProjection(fresh.schema));
    const sizes = async (): Promise<number[]> => {
      const { rows } = await admin
        .query<{ bytes: number }>(`SELECT bytes FROM "${fresh.schema}".sizes WHERE to_regclass('"${fresh.schema}".sizes') IS NOT NULL ORDER BY position`)
        .catch(() => ({ rows: [] as { bytes: number }[] }));
      return rows.map((r) => r.bytes);
    };
    // Other tests' long transactions on the shared server can hold the import back a while: four bounded waits.
    const visible = async (): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await untilVisible(admin, fresh.schema);
        } catch (error) {
          if (attempt >= 4) throw error;
        }
      }
    };
    return { dir, sizes, visible };
  }, 'pg');
});
