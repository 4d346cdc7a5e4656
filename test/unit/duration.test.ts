import { describe, expect, it } from 'vitest';
import { parseDuration, parseWholeNumber } from '../../src/core/duration.js';
import { thrown } from '../support/thrown.js';

describe('parseDuration', () => {
  it('parses every unit (decimals included) into milliseconds and refuses anything else as USAGE', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('100000000d')).toBe(8.64e15);

    for (const bad of ['', '30', 's', '-5s', '5 m', '5x', '1.h', '.5s', '5sec', '1e3s', '5S', ' 10s', '10s ', '99999999999d', '100000001d']) {
      const error = thrown(() => parseDuration(bad, '--max-age'));
      expect(error, bad).toMatchObject({ code: 'USAGE' });
      expect((error as Error).message, bad).toContain('--max-age');
    }
  });
});

describe('parseWholeNumber', () => {
  it('parses whole numbers at or above the minimum and refuses fractions, signs, words and unsafe integers', () => {
    expect(parseWholeNumber('0', '--from')).toBe(0);
    expect(parseWholeNumber('42', '--limit')).toBe(42);
    expect(parseWholeNumber(' 7 ', '--limit')).toBe(7);
    expect(parseWholeNumber('1', '--batch-size', 1)).toBe(1);
    expect(parseWholeNumber(String(Number.MAX_SAFE_INTEGER), '--from')).toBe(Number.MAX_SAFE_INTEGER);

    const cases: [string, number][] = [
      ['1.5', 0],
      ['-1', 0],
      ['+3', 0],
      ['abc', 0],
      ['', 0],
      ['1e3', 0],
      ['0', 1],
      ['9007199254740993', 0],
    ];
    for (const [text, min] of cases) {
      const error = thrown(() => parseWholeNumber(text, '--batch-size', min));
      expect(error, text).toMatchObject({ code: 'USAGE' });
      expect((error as Error).message, text).toContain('--batch-size');
    }
  });
});
