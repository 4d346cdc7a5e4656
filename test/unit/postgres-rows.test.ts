import { describe, expect, it } from 'vitest';
import { isoFromPg } from '../../src/drivers/postgres/rows.js';

describe('isoFromPg: a UTC timestamp text from PostgreSQL as Date#toISOString writes it', () => {
  it('truncates microseconds to milliseconds, as a Date built from the timestamp would', () => {
    expect(isoFromPg('2026-11-30 04:31:29.049677')).toBe('2026-11-30T04:31:29.049Z');
    expect(isoFromPg('2026-11-30 04:31:29.999999')).toBe('2026-11-30T04:31:29.999Z');
  });

  it('pads a fraction PostgreSQL wrote short (trailing zeros dropped) and adds one where it wrote none', () => {
    expect(isoFromPg('2026-11-30 04:31:29.5')).toBe('2026-11-30T04:31:29.500Z');
    expect(isoFromPg('2026-11-30 04:31:29.04')).toBe('2026-11-30T04:31:29.040Z');
    expect(isoFromPg('2026-11-30 04:31:29')).toBe('2026-11-30T04:31:29.000Z');
  });

  it('agrees with a Date on random instants', () => {
    for (let i = 0; i < 1000; i++) {
      const ms = Math.floor(Math.random() * 4e12);
      const micros = String(Math.floor(Math.random() * 1000)).padStart(3, '0');
      const iso = new Date(ms).toISOString();
      const text = `${iso.slice(0, 10)} ${iso.slice(11, 23)}${micros}`.replace(/\.?0+$/, '');
      expect(isoFromPg(text)).toBe(iso);
    }
  });

  it('writes a year past 9999 as a Date does, and refuses text of another DateStyle', () => {
    expect(isoFromPg('10000-01-02 03:04:05.6')).toBe(new Date(Date.UTC(10000, 0, 2, 3, 4, 5, 600)).toISOString());
    expect(() => isoFromPg('Mon Nov 30 04:31:29.049677 2026')).toThrow(/DateStyle/);
    expect(() => isoFromPg('11/30/2026 04:31:29.049677')).toThrow(/DateStyle/);
  });
});
