import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** The test server's URL (see pg-global-setup.ts). */
export function pgServerUrl(): string {
  return inject('pgUrl');
}

/** A URL naming a new, unused schema on the test server, and a way to drop it afterwards. */
export function freshPgStore(): { url: string; schema: string; drop: () => Promise<void> } {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const base = new URL(pgServerUrl());
  base.searchParams.set('schema', schema);
  return {
    url: base.toString(),
    schema,
    drop: async () => {
      const client = new pg.Client({ connectionString: pgServerUrl() });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
