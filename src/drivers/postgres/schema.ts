import type { PoolClient } from 'pg';
import { environment } from '../../core/errors.js';
import { initialXactDdl } from './cluster.js';
import { inTransaction } from './tx.js';

/** Bumped when the tables change; stored in `<schema>.es_meta`. */
export const SCHEMA_VERSION = 3;

/**
 * Positions come from an identity column, drawn when a row is inserted, not when its transaction
 * commits; `transaction_id` (the writer's transaction id, made logical by es_xact_id(): see cluster.ts)
 * is what lets a reader follow commit order.
 */
function ddl(s: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS "${s}";
CREATE OR REPLACE FUNCTION "${s}".es_xact_id() RETURNS xid8 LANGUAGE sql VOLATILE AS 'SELECT pg_current_xact_id()';
CREATE TABLE IF NOT EXISTS "${s}".events (
  position       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id xid8        NOT NULL DEFAULT "${s}".es_xact_id(),
  id             text        NOT NULL UNIQUE,
  stream_id      text        NOT NULL,
  version        integer     NOT NULL,
  type           text        NOT NULL,
  data           json        NOT NULL,
  metadata       json        NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  system         boolean     NOT NULL,
  UNIQUE (stream_id, version)
);
CREATE INDEX IF NOT EXISTS events_commit_order ON "${s}".events (transaction_id, position) WHERE NOT system;
CREATE INDEX IF NOT EXISTS events_type_commit_order ON "${s}".events (type, transaction_id, position) WHERE NOT system;
CREATE TABLE IF NOT EXISTS "${s}".es_locks (
  name       text   PRIMARY KEY,
  owner_id   text   NOT NULL,
  pid        integer NOT NULL,
  host       text   NOT NULL,
  since      text   NOT NULL,
  expires_at bigint NOT NULL,
  pid_ns     text,
  boot_id    text,
  token      bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS "${s}".es_workers (
  id         text    PRIMARY KEY,
  pid        integer NOT NULL,
  host       text    NOT NULL,
  since      text    NOT NULL,
  expires_at bigint  NOT NULL
);
CREATE TABLE IF NOT EXISTS "${s}".es_meta (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO "${s}".es_meta (key, value) VALUES ('schema_version', '${SCHEMA_VERSION}') ON CONFLICT (key) DO NOTHING;
${initialXactDdl(s)}`;
}

async function storedVersion(client: PoolClient, schema: string): Promise<number | null> {
  const table = await client.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [`"${schema}".es_meta`]);
  if (table.rows[0]?.found == null) return null;
  const row = await client.query<{ value: string }>(`SELECT value FROM "${schema}".es_meta WHERE key = 'schema_version'`);
  return row.rows[0] ? Number(row.rows[0].value) : null;
}

/** Runs `step` once, under the same advisory lock as creation, when the stored version is `from`. */
async function upgrade(client: PoolClient, schema: string, from: number, step: () => Promise<void>): Promise<number | null> {
  await inTransaction(client, async () => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`es-schema:${schema}`]);
    if ((await storedVersion(client, schema)) === from) {
      await step();
      await client.query(`UPDATE "${schema}".es_meta SET value = '${from + 1}' WHERE key = 'schema_version'`);
    }
  });
  return storedVersion(client, schema);
}

/**
 * Version 2: the lock's fencing token and the workers table (many workers). Additive, so an es of
 * version 1 still running keeps working meanwhile (its takeovers change the owner, which fences too).
 */
async function upgradeFrom1(client: PoolClient, schema: string): Promise<number | null> {
  return upgrade(client, schema, 1, async () => {
    await client.query(`ALTER TABLE "${schema}".es_locks ADD COLUMN IF NOT EXISTS token bigint NOT NULL DEFAULT 0`);
    await client.query(ddl(schema));
  });
}

/**
 * Version 3: logical transaction ids (cluster.ts), at offset 0 on the cluster that upgrades, so the
 * ids stored and those of an es of version 2 still running agree.
 */
async function upgradeFrom2(client: PoolClient, schema: string): Promise<number | null> {
  return upgrade(client, schema, 2, async () => {
    await client.query(initialXactDdl(schema));
    await client.query(`ALTER TABLE "${schema}".events ALTER COLUMN transaction_id SET DEFAULT "${schema}".es_xact_id()`);
  });
}

/**
 * Checks that the schema holds an es store, or creates it (`create`). Concurrent first writers
 * serialise on an advisory lock, so only one of them runs the DDL.
 */
export async function ensureSchema(client: PoolClient, schema: string, create: boolean, display: string): Promise<void> {
  let version = await storedVersion(client, schema);
  if (version === null) {
    if (!create) {
      throw environment(`no event store in schema "${schema}" of ${display}: create one with \`es append\`, \`es import\` or \`es demo\``);
    }
    await inTransaction(client, async () => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`es-schema:${schema}`]);
      await client.query(ddl(schema));
    });
    version = await storedVersion(client, schema);
  }
  if (version === 1) version = await upgradeFrom1(client, schema);
  if (version === 2) version = await upgradeFrom2(client, schema);
  if (version !== SCHEMA_VERSION) {
    throw environment(`schema "${schema}" of ${display}: event store schema version ${version} is not supported (expected ${SCHEMA_VERSION})`);
  }
}
