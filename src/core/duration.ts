import { usage } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The span a Date can hold either side of 1970 (100,000,000 days): longer is no duration es can use. */
const MAX_MS = 8.64e15;

/** Parses `250ms`, `30s`, `5m`, `2h`, `1d` (and decimals such as `1.5h`) into milliseconds. */
export function parseDuration(text: string, flag = 'duration'): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
  if (!match) throw usage(`${flag}: "${text}" is not a duration (use e.g. 30s, 5m, 2h, 1d)`);
  const ms = Number(match[1]) * (UNITS[match[2] as string] as number);
  if (!(ms <= MAX_MS)) throw usage(`${flag}: "${text}" is too long (at most 100000000d)`);
  return ms;
}

/** Parses a whole number >= min, for positions, limits and sizes given on the command line. */
export function parseWholeNumber(text: string, flag: string, min = 0): number {
  if (!/^\d+$/.test(text.trim())) throw usage(`${flag}: "${text}" is not a whole number`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw usage(`${flag}: "${text}" is too large`);
  if (value < min) throw usage(`${flag}: must be at least ${min}`);
  return value;
}
