export function median(values) {
  return percentile(values, 50);
}

/** Nearest-rank percentile of a list of numbers (p in 0..100). */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export const max = (values) => (values.length ? Math.max(...values) : NaN);
export const min = (values) => (values.length ? Math.min(...values) : NaN);
