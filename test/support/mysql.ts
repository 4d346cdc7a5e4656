import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { describe } from 'vitest';

/** The MariaDB/MySQL server for tests: `.ci/run` sets it when 127.0.0.1:3306 answers. */
export const mysqlServerUrl = process.env.ES_TEST_MYSQL_URL || undefined;

/**
 * `describe` when a MariaDB server was given; otherwise the suite is skipped with its reason in its
 * name, and a line on stderr says plainly that it did not run.
 */
export function describeMysql(name: string, body: () => void): void {
  if (mysqlServerUrl) {
    describe(name, body);
    return;
  }
  process.stderr.write(`MariaDB tests did not run (${name}): ES_TEST_MYSQL_URL is not set (no server at 127.0.0.1:3306)\n`);
  describe.skip(`${name} (did not run: ES_TEST_MYSQL_URL is not set)`, body);
}

/** A new, empty database on the test server, its URL, and a way to drop it. */
export async function freshMysqlDatabase(): Promise<{ url: string; database: string; drop: () => Promise<void> }> {
  if (!mysqlServerUrl) throw new Error('ES_TEST_MYSQL_URL is not set');
  const database = `t_${randomBytes(6).toString('hex')}`;
  const admin = await createConnection(mysqlServerUrl);
  try {
    await admin.query(`CREATE DATABASE \`${database}\``);
  } finally {
    await admin.end();
  }
  const url = new URL(mysqlServerUrl);
  url.pathname = `/${database}`;
  return {
    url: url.toString(),
    database,
    drop: async () => {
      const conn = await createConnection(mysqlServerUrl as string);
      try {
        await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
      } finally {
        await conn.end();
      }
    },
  };
}
