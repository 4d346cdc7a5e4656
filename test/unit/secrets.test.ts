import { describe, expect, it } from 'vitest';
import { redact } from '../../src/core/secrets.js';

describe('redact', () => {
  it('hides a ?password= value and keeps the message around it, the colon after the URL included', () => {
    expect(redact('cannot connect to postgres://u@h/db?password=hunter2: connection refused')).toBe(
      'cannot connect to postgres://u@h/db?password=***: connection refused',
    );
    expect(redact('postgres://u@h/db?sslmode=disable&password=x1: no')).toBe('postgres://u@h/db?sslmode=disable&password=***: no');
    expect(redact('postgres://h/db?password=s3&schema=s: down')).toBe('postgres://h/db?password=***&schema=s: down');
    expect(redact('at postgres://h/db?password=a:b:c then')).toBe('at postgres://h/db?password=*** then');
    expect(redact('postgres://h/db?password=tail')).toBe('postgres://h/db?password=***');
    expect(redact('postgres://u:pw@h/db: refused')).toBe('postgres://u:***@h/db: refused');
  });
});
