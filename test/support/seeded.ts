/**
 * Seeded randomness for tests whose schedule is random (when to kill, how long to wait): a failing
 * run prints its seed, and the same seed replays the same schedule.
 */
import { randomInt } from 'node:crypto';

/** mulberry32: a small 32-bit PRNG; numbers in [0, 1), the same sequence for the same seed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The seed from `envVar` (a whole number), or a fresh one; said on stderr as
 * `<label>: seed <n> (replay with <envVar>=<n>)`.
 */
export function seedFrom(envVar: string, label: string): number {
  const given = process.env[envVar];
  if (given !== undefined && !/^\d+$/.test(given.trim())) throw new Error(`${envVar}: "${given}" is not a whole number`);
  const seed = given !== undefined ? Number(given.trim()) >>> 0 : randomInt(0, 2 ** 31);
  console.error(`${label}: seed ${seed} (replay with ${envVar}=${seed})`);
  return seed;
}

/**
 * Independent sequences from one seed, one per name: a schedule drawn by concurrent loops (a writer
 * and a killer, say) replays only if each loop draws from a sequence of its own.
 */
export function streams<K extends string>(seed: number, names: readonly K[]): Record<K, () => number> {
  const out = {} as Record<K, () => number>;
  names.forEach((name, i) => {
    out[name] = mulberry32((seed ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0);
  });
  return out;
}
