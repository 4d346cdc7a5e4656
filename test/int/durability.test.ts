import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';

const root = mkdtempSync(join(tmpdir(), 'es-durability-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const FULL = 2;
const NORMAL = 1;

/**
 * The `synchronous` level each inserted event was written under, seen from inside SQLite: a temp
 * trigger on the store's own connection records it. (The fsync count itself is checked with strace
 * in test/e2e/durable.test.ts; this check needs no strace.)
 */
function recordSyncLevels(store: SqliteEventStore): () => { stream: string; level: number }[] {
  store.db.exec(`
    CREATE TEMP TABLE sync_seen (stream TEXT, level INTEGER);
    CREATE TEMP TRIGGER sync_seen_events AFTER INSERT ON main.events
    BEGIN INSERT INTO sync_seen SELECT NEW.stream_id, synchronous FROM pragma_synchronous; END;`);
  return () => store.db.prepare('SELECT stream, level FROM sync_seen ORDER BY rowid').all() as { stream: string; level: number }[];
}

describe('SqliteEventStore durability', () => {
  it('writes user events under synchronous=FULL and projection batches under NORMAL, switching back each time', async () => {
    const store = new SqliteEventStore(join(root, 'events.db'), { create: true });
    try {
      const seen = recordSyncLevels(store);
      await store.append('orders-1', [{ type: 'OrderPlaced' }, { type: 'OrderPaid' }]);
      await store.commit({ streamId: '$checkpoint-p', expectedVersion: 'no-stream', event: { type: 'Checkpoint', data: { position: 2 } } });
      await store.appendMany([{ streamId: 'orders-2', type: 'OrderPlaced' }]);
      await store.commit({ streamId: '$checkpoint-p', expectedVersion: 1, event: { type: 'Checkpoint', data: { position: 3 } } });
      await store.append('orders-3', [{ type: 'OrderPlaced' }]);
      expect(seen()).toEqual([
        { stream: 'orders-1', level: FULL },
        { stream: 'orders-1', level: FULL },
        { stream: '$checkpoint-p', level: NORMAL },
        { stream: 'orders-2', level: FULL },
        { stream: '$checkpoint-p', level: NORMAL },
        { stream: 'orders-3', level: FULL },
      ]);
    } finally {
      await store.close();
    }
  });

  it('goes back to FULL after a batch whose handler throws', async () => {
    const store = new SqliteEventStore(join(root, 'throws.db'), { create: true });
    try {
      const seen = recordSyncLevels(store);
      await expect(
        store.commit({
          apply: () => {
            throw new Error('boom');
          },
          streamId: '$checkpoint-p',
          expectedVersion: 'no-stream',
          event: { type: 'Checkpoint', data: { position: 0 } },
        }),
      ).rejects.toThrow('boom');
      await store.append('orders-1', [{ type: 'OrderPlaced' }]);
      expect(seen()).toEqual([{ stream: 'orders-1', level: FULL }]);
    } finally {
      await store.close();
    }
  });
});
