import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureHandledTable, recordMessage } from '../../src/index.js';
import { describeMysql, freshMysqlDatabase } from '../support/mysql.js';
import { pgServerUrl } from '../support/pg.js';

const message = (n: number) => ({ id: `evt-${n}`, position: n });

describe('recordMessage on SQLite (synchronous, inside the consumer transaction)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'es-consumer-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is true the first time, false for a redelivery, and forgets a message whose transaction rolled back', () => {
    const db = new Database(join(dir, 'billing.db'));
    ensureHandledTable(db);
    db.exec('CREATE TABLE invoices (event_id TEXT)');
    const apply = db.transaction((m: { id: string; position: number }, fail = false) => {
      if (!recordMessage(db, 'billing', m)) return false;
      db.prepare('INSERT INTO invoices VALUES (?)').run(m.id);
      if (fail) throw new Error('consumer crashed');
      return true;
    });
    expect(apply(message(1))).toBe(true);
    expect(apply(message(1))).toBe(false);
    expect(() => apply(message(2), true)).toThrow('consumer crashed');
    expect(apply(message(2))).toBe(true);
    // Another consumer of the same messages keeps its own record.
    expect(db.transaction(() => recordMessage(db, 'shipping', message(1)))()).toBe(true);
    expect(db.prepare('SELECT event_id FROM invoices ORDER BY event_id').pluck().all()).toEqual(['evt-1', 'evt-2']);
    db.close();
  });
});

describe('recordMessage on PostgreSQL (node-postgres client inside BEGIN … COMMIT)', () => {
  it('is true once per message id, and a rolled-back record is forgotten', async () => {
    const client = new pg.Client({ connectionString: pgServerUrl() });
    await client.connect();
    const schema = `consumer_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    try {
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.query(`SET search_path TO ${schema}`);
      await ensureHandledTable(client);
      const apply = async (m: { id: string; position: number }, fail = false): Promise<boolean> => {
        await client.query('BEGIN');
        try {
          const fresh = await recordMessage(client, 'billing', m);
          if (fail) throw new Error('consumer crashed');
          await client.query('COMMIT');
          return fresh;
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
      };
      expect(await apply(message(1))).toBe(true);
      expect(await apply(message(1))).toBe(false);
      await expect(apply(message(2), true)).rejects.toThrow('consumer crashed');
      expect(await apply(message(2))).toBe(true);
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  });
});

describeMysql('recordMessage on MariaDB (mysql2 promise connection inside a transaction)', () => {
  it('is true once per message id, and a rolled-back record is forgotten', async () => {
    const database = await freshMysqlDatabase();
    const conn = await createConnection(database.url);
    try {
      await ensureHandledTable(conn);
      const apply = async (m: { id: string; position: number }, fail = false): Promise<boolean> => {
        await conn.beginTransaction();
        try {
          const fresh = await recordMessage(conn, 'billing', m);
          if (fail) throw new Error('consumer crashed');
          await conn.commit();
          return fresh;
        } catch (error) {
          await conn.rollback();
          throw error;
        }
      };
      expect(await apply(message(1))).toBe(true);
      expect(await apply(message(1))).toBe(false);
      await expect(apply(message(2), true)).rejects.toThrow('consumer crashed');
      expect(await apply(message(2))).toBe(true);
    } finally {
      await conn.end();
      await database.drop();
    }
  });
});
