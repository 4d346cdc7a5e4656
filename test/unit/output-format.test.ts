import { describe, expect, it } from 'vitest';
import { formatAge, formatDuration, printable } from '../../src/cli/output.js';

describe('formatAge', () => {
  it('uses the largest unit that reads well, never a five-digit count of seconds', () => {
    expect(formatAge(0)).toBe('0.0s');
    expect(formatAge(0.34)).toBe('0.3s');
    expect(formatAge(59.94)).toBe('59.9s');
    expect(formatAge(59.96)).toBe('1m 0s');
    expect(formatAge(125)).toBe('2m 5s');
    expect(formatAge(3599.4)).toBe('59m 59s');
    expect(formatAge(3599.9)).toBe('1h 0m');
    expect(formatAge(3600)).toBe('1h 0m');
    expect(formatAge(3 * 3600 + 20 * 60 + 5)).toBe('3h 20m');
    expect(formatAge(86_400)).toBe('1d 0h');
    expect(formatAge(28_523_176.8)).toBe('330d 3h');
  });
});

describe('formatDuration', () => {
  it('rounds before it splits (no 1m60s) and counts hours', () => {
    expect(formatDuration(250.4)).toBe('250ms');
    expect(formatDuration(999.7)).toBe('1.0s');
    expect(formatDuration(12_340)).toBe('12.3s');
    expect(formatDuration(59_960)).toBe('1m0s');
    expect(formatDuration(119_600)).toBe('2m0s');
    expect(formatDuration(125_000)).toBe('2m5s');
    expect(formatDuration(3_599_600)).toBe('1h0m0s');
    expect(formatDuration(180 * 60_000)).toBe('3h0m0s');
    expect(formatDuration(86_400_000 + 65_000)).toBe('24h1m5s');
  });
});

describe('printable', () => {
  it('escapes control characters, separators and bidi overrides, and leaves other text alone', () => {
    expect(printable('order-1 Café ✓ \\x1b')).toBe('order-1 Café ✓ \\x1b');
    expect(printable('a\x1b[31mb')).toBe('a\\x1b[31mb');
    expect(printable('\n\r\t\0\x7f\x9b')).toBe('\\n\\r\\t\\x00\\x7f\\x9b');
    expect(printable('x\u2028y\u202ez\u2066')).toBe('x\\u2028y\\u202ez\\u2066');
  });
});
