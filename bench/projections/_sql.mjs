// The SQL the benchmark projections run, shared with the hand-written floor (bench/floor.js) so
// both do exactly the same database work per event. Files starting with `_` are not projections.

export const streams = {
  table: `CREATE TABLE IF NOT EXISTS bench_streams (
    stream_id TEXT PRIMARY KEY, events INTEGER NOT NULL, last_type TEXT NOT NULL,
    last_position INTEGER NOT NULL, last_at TEXT NOT NULL)`,
  reset: 'DELETE FROM bench_streams',
  upsert: `INSERT INTO bench_streams (stream_id, events, last_type, last_position, last_at) VALUES (?, 1, ?, ?, ?)
    ON CONFLICT (stream_id) DO UPDATE SET events = events + 1, last_type = excluded.last_type,
      last_position = excluded.last_position, last_at = excluded.last_at`,
};

export const customers = {
  table: `CREATE TABLE IF NOT EXISTS bench_customers (
    customer_id TEXT PRIMARY KEY, orders INTEGER NOT NULL DEFAULT 0, failed_payments INTEGER NOT NULL DEFAULT 0,
    spent_cents INTEGER NOT NULL DEFAULT 0, last_at TEXT NOT NULL)`,
  reset: 'DELETE FROM bench_customers',
  upsert: `INSERT INTO bench_customers (customer_id, orders, failed_payments, spent_cents, last_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (customer_id) DO UPDATE SET orders = orders + excluded.orders,
      failed_payments = failed_payments + excluded.failed_payments,
      spent_cents = spent_cents + excluded.spent_cents, last_at = excluded.last_at`,
};

export const skus = {
  table: `CREATE TABLE IF NOT EXISTS bench_skus (sku TEXT PRIMARY KEY, quantity INTEGER NOT NULL, lines INTEGER NOT NULL)`,
  reset: 'DELETE FROM bench_skus',
  upsert: `INSERT INTO bench_skus (sku, quantity, lines) VALUES (?, ?, ?)
    ON CONFLICT (sku) DO UPDATE SET quantity = quantity + excluded.quantity, lines = lines + excluded.lines`,
};

export const daily = {
  table: `CREATE TABLE IF NOT EXISTS bench_daily (day TEXT NOT NULL, type TEXT NOT NULL, events INTEGER NOT NULL,
    PRIMARY KEY (day, type))`,
  reset: 'DELETE FROM bench_daily',
  upsert: `INSERT INTO bench_daily (day, type, events) VALUES (?, ?, 1)
    ON CONFLICT (day, type) DO UPDATE SET events = events + 1`,
};

export const revenue = {
  table: `CREATE TABLE IF NOT EXISTS bench_revenue (day TEXT NOT NULL, method TEXT NOT NULL,
    payments INTEGER NOT NULL, amount_cents INTEGER NOT NULL, PRIMARY KEY (day, method))`,
  reset: 'DELETE FROM bench_revenue',
  upsert: `INSERT INTO bench_revenue (day, method, payments, amount_cents) VALUES (?, ?, 1, ?)
    ON CONFLICT (day, method) DO UPDATE SET payments = payments + 1, amount_cents = amount_cents + excluded.amount_cents`,
};
