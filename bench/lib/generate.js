// Deterministic event log for the benchmark, written straight into an es store's own schema.
// The sequence depends only on the seed, never on the total: the first N events of a 5M log are
// the N events of an N log, so a peer run on a small log sees exactly the events es saw.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import { prng } from './prng.js';

/** Bump when the generated content changes, so cached stores are not reused. */
export const GENERATOR_VERSION = 2;
export const SEED = 20261123;
/** Streams open at once: the log interleaves their events, as real traffic does. */
const OPEN_STREAMS = 2000;
const CUSTOMERS = 20_000;
const SKUS = 5_000;
const START_MS = Date.parse('2026-01-01T00:00:00.000Z');
/** One event a second: 1M events span about 11.6 days, 5M about 58. */
const STEP_MS = 1000;
const CHANNELS = ['web', 'app', 'store', 'phone'];
const METHODS = ['card', 'paypal', 'transfer', 'voucher'];
const CARRIERS = ['dhl', 'ups', 'gls', 'post'];
const REASONS = ['declined', 'expired', 'insufficient-funds'];
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz0123456789';

/** An order's life: the event types its stream will hold, in order. */
function script(rng) {
  const types = ['OrderCreated'];
  const items = 1 + rng.int(6);
  for (let i = 0; i < items; i++) types.push('ItemAdded');
  if (rng.next() < 0.2) types.push('ItemRemoved');
  types.push('OrderPlaced');
  if (rng.next() < 0.1) types.push('PaymentFailed');
  if (rng.next() < 0.92) {
    types.push('PaymentCaptured');
    if (rng.next() < 0.85) types.push('OrderShipped');
  }
  return types;
}

/** Iterates the log: `next()` fills and returns one reusable row object. */
export function eventSource(seed = SEED) {
  const rng = prng(seed);
  const filler = Array.from({ length: 256 }, () => {
    let s = '';
    for (let i = 0; i < 200; i++) s += ALPHABET[rng.int(ALPHABET.length)];
    return s;
  });
  let nextOrder = 1;
  const open = () => {
    const n = nextOrder++;
    return {
      streamId: `order-${String(n).padStart(8, '0')}`,
      orderId: `o${n}`,
      customerId: `c${String(1 + rng.int(CUSTOMERS)).padStart(5, '0')}`,
      types: script(rng),
      version: 0,
      lastSku: null,
      totalCents: 0,
    };
  };
  const pool = Array.from({ length: OPEN_STREAMS }, open);
  let index = 0;
  const row = { id: '', streamId: '', version: 0, type: '', data: '', recordedAt: '' };

  function payload(s, type, at) {
    const base = { orderId: s.orderId, customerId: s.customerId };
    switch (type) {
      case 'OrderCreated':
        return { ...base, channel: CHANNELS[rng.int(4)], currency: 'EUR', at };
      case 'ItemAdded': {
        const sku = `sku-${String(1 + rng.int(SKUS)).padStart(5, '0')}`;
        const qty = 1 + rng.int(4);
        const priceCents = 199 + rng.int(20_000);
        s.lastSku = sku;
        s.totalCents += qty * priceCents;
        return { ...base, sku, qty, priceCents, at };
      }
      case 'ItemRemoved':
        return { ...base, sku: s.lastSku, qty: 1, at };
      case 'OrderPlaced':
        return { ...base, totalCents: s.totalCents, at };
      case 'PaymentFailed':
        return { ...base, amountCents: s.totalCents, reason: REASONS[rng.int(3)], at };
      case 'PaymentCaptured':
        return { ...base, amountCents: s.totalCents, method: METHODS[rng.int(4)], at };
      default:
        return { ...base, carrier: CARRIERS[rng.int(4)], trackingNo: rng.hex(12).toUpperCase(), at };
    }
  }

  return {
    next() {
      const slot = rng.int(OPEN_STREAMS);
      let s = pool[slot];
      if (s.version >= s.types.length) s = pool[slot] = open();
      const type = s.types[s.version];
      s.version += 1;
      const ms = START_MS + index * STEP_MS;
      index += 1;
      const at = new Date(ms).toISOString();
      const data = payload(s, type, at);
      // About 200 bytes of JSON: pad with a note of random text to a length between 180 and 220.
      const bare = JSON.stringify(data);
      const target = 180 + rng.int(41);
      const room = target - bare.length - 10;
      // The filler alphabet needs no JSON escaping, so the note is spliced in as text.
      row.data = room > 0 ? `${bare.slice(0, -1)},"note":"${filler[rng.int(filler.length)].slice(0, room)}"}` : bare;
      // Time-ordered (v7-style) ids: unique, and cheap to insert into the store's UNIQUE(id) index.
      const t = ms.toString(16).padStart(12, '0');
      const r = rng.hex(20);
      row.id = `${t.slice(0, 8)}-${t.slice(8)}-7${r.slice(0, 3)}-${'89ab'[rng.int(4)]}${r.slice(3, 6)}-${r.slice(6, 18)}`;
      row.streamId = s.streamId;
      row.version = s.version;
      row.type = type;
      row.recordedAt = at;
      return row;
    },
  };
}

/** Bulk-inserts `count` events into a fresh es store at `path` (created through es itself). */
export async function generateStore(path, count, { onProgress } = {}) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.partial`;
  for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  const { openSqliteStore } = await import('../../dist/index.js');
  const store = openSqliteStore(tmp, { create: true });
  await store.close();

  const db = new Sqlite(tmp);
  // Nothing here needs to survive a crash: the file is renamed into place only when complete.
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1048576');
  db.pragma('locking_mode = EXCLUSIVE');
  // A (type, position) index takes inserts at one spot per type, mid-tree, each a costly split:
  // building it once at the end is several times faster than maintaining it row by row.
  const typeIndex = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`).all();
  for (const index of typeIndex) db.exec(`DROP INDEX ${index.name}`);
  const insert = db.prepare(
    `INSERT INTO events (id, stream_id, version, type, data, metadata, recorded_at, system, seq, type_seq)
     VALUES (?, ?, ?, ?, ?, '{}', ?, 0, ?, ?)`,
  );
  const source = eventSource();
  // The ordinals es keeps at insert (src/drivers/sqlite/ordinals.ts): user events so far, and of this type.
  let seq = 0;
  const typeSeq = new Map();
  const chunk = db.transaction((n) => {
    for (let i = 0; i < n; i++) {
      const e = source.next();
      const ofType = (typeSeq.get(e.type) ?? 0) + 1;
      typeSeq.set(e.type, ofType);
      seq += 1;
      insert.run(e.id, e.streamId, e.version, e.type, e.data, e.recordedAt, seq, ofType);
    }
  });
  const CHUNK = 100_000;
  for (let done = 0; done < count;) {
    const n = Math.min(CHUNK, count - done);
    chunk(n);
    done += n;
    onProgress?.(done);
  }
  for (const index of typeIndex) db.exec(index.sql);
  db.pragma('locking_mode = NORMAL');
  db.pragma('journal_mode = WAL');
  db.close();
  renameSync(tmp, path);
  return statSync(path).size;
}

/** The cached store for a size, generated when missing. */
export async function cachedStore(dataDir, count, log = () => {}) {
  const path = `${dataDir}/log-${count}-g${GENERATOR_VERSION}.db`;
  // How long generating took is kept beside the store, so a cached run can still report it.
  const info = `${path}.json`;
  if (existsSync(path)) {
    const saved = existsSync(info) ? JSON.parse(readFileSync(info, 'utf8')) : {};
    return { path, generatedMs: saved.generatedMs ?? null, cached: true };
  }
  const t0 = performance.now();
  log(`generating ${count.toLocaleString('en-US')} events into ${path} ...`);
  const bytes = await generateStore(path, count, {
    onProgress: (done) => {
      if (done % 1_000_000 === 0 || done === count) log(`  ${done.toLocaleString('en-US')} events`);
    },
  });
  const generatedMs = performance.now() - t0;
  writeFileSync(info, `${JSON.stringify({ events: count, generatedMs, bytes, at: new Date().toISOString() })}\n`);
  log(`  done in ${(generatedMs / 1000).toFixed(1)} s (${(bytes / 2 ** 20).toFixed(0)} MB)`);
  return { path, generatedMs, cached: false };
}
