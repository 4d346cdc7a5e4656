/**
 * The same file imported by several processes at once (a retried cron job, two operators): every
 * import succeeds, each event is stored once, and the later ones skip what the first stored.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, es, esBackground, jsonLines, tempDir, writeFile } from './helpers.js';
import { freshPgStore } from '../support/pg.js';

const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const drop of drops) await drop().catch(() => {});
  cleanupTempDirs();
});

function dbFor(kind: 'sqlite' | 'postgres'): string {
  if (kind === 'sqlite') return 'sqlite:events.db';
  const fresh = freshPgStore();
  drops.push(fresh.drop);
  return fresh.url;
}

describe.each(['sqlite', 'postgres'] as const)('on %s', (kind) => {
  it('three imports of one file at once all succeed, and store each event once', async () => {
    const dir = tempDir('es-import-race-');
    const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: `ev-${i}`, streamId: `s-${i % 7}`, type: 'Tick', data: { i } }));
    writeFile(dir, 'events.ndjson', `${lines.join('\n')}\n`);
    const db = dbFor(kind);
    const runs = Array.from({ length: 3 }, () => esBackground(dir, ['--db', db, 'import', 'events.ndjson']));
    const results = await Promise.all(runs.map(async (run) => ({ ...(await run.exited), ...run.output() })));
    for (const result of results) {
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    }
    const stored = results.map((r) => r.stdout.trim());
    expect(stored.filter((line) => line === 'imported 3,000 events')).toHaveLength(1);
    const events = jsonLines(es(dir, ['--db', db, 'read', '--json']).stdout);
    expect(events).toHaveLength(3000);
    expect(new Set(events.map((e) => e.id)).size).toBe(3000);
  }, 60_000);
});
