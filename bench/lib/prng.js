/** sfc32: a small, fast, seeded PRNG, so the generated log is the same on every machine. */
export function prng(seed) {
  let a = 0x9e3779b9,
    b = 0x243f6a88,
    c = 0xb7e15162,
    d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return {
    next,
    /** integer in [0, n) */
    int: (n) => Math.floor(next() * n),
    hex: (digits) => {
      let s = '';
      while (s.length < digits) s += ((next() * 0x100000000) >>> 0).toString(16).padStart(8, '0');
      return s.slice(0, digits);
    },
  };
}
