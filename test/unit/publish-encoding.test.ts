import { describe, expect, it } from 'vitest';
import { encodeToken } from '../../src/core/publish.js';

describe('encodeToken', () => {
  it.each([
    ['cart-42', 'cart-42'],
    ['sm.4.>', 'sm%2E4%2E%3E'],
    ['a b*c', 'a%20b%2Ac'],
    ['50%', '50%25'],
    ['order:42/x#1@h', 'order:42/x#1@h'],
    ['café\u00a0z', 'café%C2%A0z'],
    ['\u3000', '%E3%80%80'],
  ])('%j becomes %j, and decodeURIComponent gives it back', (value, encoded) => {
    expect(encodeToken(value)).toBe(encoded);
    expect(decodeURIComponent(encoded)).toBe(value);
  });

  it('leaves no character that splits a NATS subject or is a wildcard', () => {
    const all = Array.from({ length: 0x3100 }, (_, i) => String.fromCharCode(i)).join('');
    expect(encodeToken(all)).not.toMatch(/[.*>\s\p{Cc}]/u);
  });
});
