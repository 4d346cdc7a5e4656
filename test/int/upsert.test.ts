/**
 * The upsert helpers on real databases: rows by key, `add` columns summed (also between rows of the
 * same key in one call), others overwritten; identifiers outside [A-Za-z_][A-Za-z0-9_]* refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeRows, pgUpsert, sqliteUpsert } from '../../src/helpers/upsert.js';
import { freshPgStore, pgServerUrl } from '../support/pg.js';

const first = [
  { day: '2026-01-01', sku: 'a', units: 2, last_price: 10 },
  { day: '2026-01-01', sku: 'b', units: 1, last_price: 20 },
  { day: '2026-01-01', sku: 'a', units: 3, last_price: 11 },
];
const second = [
  { day: '2026-01-01', sku: 'a', units: 5, last_price: 12 },
  { day: '2026-01-02', sku: 'a', units: 1, last_price: 13 },
];
const options = { key: ['day', 'sku'], add: ['units'] };
const expected = [
  { day: '2026-01-01', sku: 'a', units: 10, last_price: 12 },
  { day: '2026-01-01', sku: 'b', units: 1, last_price: 20 },
  { day: '2026-01-02', sku: 'a', units: 1, last_price: 13 },
];

it('mergeRows keeps one row per key: add columns summed, the others from the last row', () => {
  expect(mergeRows(first, options)).toEqual([
    { day: '2026-01-01', sku: 'a', units: 5, last_price: 11 },
    { day: '2026-01-01', sku: 'b', units: 1, last_price: 20 },
  ]);
});

describe('sqliteUpsert', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'es-upsert-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes rows by key, adding and overwriting', () => {
    const db = new Database(join(dir, 'a.db'));
    try {
      db.exec('CREATE TABLE sales (day TEXT, sku TEXT, units INTEGER NOT NULL, last_price INTEGER, PRIMARY KEY (day, sku))');
      sqliteUpsert(db, 'sales', first, options);
      sqliteUpsert(db, 'sales', second, options);
      sqliteUpsert(db, 'sales', [], options);
      expect(db.prepare('SELECT * FROM sales ORDER BY day, sku').all()).toEqual(expected);
      expect(() => sqliteUpsert(db, 'sales; DROP TABLE sales', first, options)).toThrow(/not a plain SQL identifier/);
      expect(() => sqliteUpsert(db, 'sales', first, { key: ['nope'] })).toThrow(/no column "nope"/);
    } finally {
      db.close();
    }
  });
});

describe('pgUpsert', () => {
  it('writes rows by key in one statement, adding and overwriting, typed by the table', async () => {
    const fresh = freshPgStore();
    const client = new pg.Client({ connectionString: pgServerUrl() });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA "${fresh.schema}"`);
      const table = `${fresh.schema}.sales`;
      await client.query(`CREATE TABLE ${table} (day text, sku text, units int NOT NULL, last_price bigint, PRIMARY KEY (day, sku))`);
      await pgUpsert(client, table, first, options);
      await pgUpsert(client, table, second, options);
      const { rows } = await client.query(`SELECT day, sku, units, last_price::int AS last_price FROM ${table} ORDER BY day, sku`);
      expect(rows).toEqual(expected);
      await expect(pgUpsert(client, `${table}"`, first, options)).rejects.toThrow(/not a plain SQL identifier/);
    } finally {
      await client.end();
      await fresh.drop();
    }
  });
});
