import { EsError } from '../core/errors.js';

/**
 * The common write of a set-based projection: "these rows, by key; add these columns to what is
 * there, overwrite the others". Thin on purpose: plain SQL in `batch` does anything this does not.
 */
export interface UpsertOptions {
  /** The primary-key (or unique) columns. */
  key: readonly string[];
  /** Columns added to the stored value on conflict (counters, sums); the others are overwritten. */
  add?: readonly string[];
}

type Row = Record<string, unknown>;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function quoted(name: string): string {
  if (!IDENTIFIER.test(name)) throw new EsError('USAGE', `upsert: "${name}" is not a plain SQL identifier (letters, digits, _)`);
  return `"${name}"`;
}

/** `schema.table` or `table`, each part checked and quoted. */
const tableName = (table: string): string => table.split('.').map(quoted).join('.');

/**
 * One row per key, in first-seen order: a later row's `add` columns are summed into the earlier
 * one's, its other columns win. (One statement may not touch a row twice on PostgreSQL.)
 */
export function mergeRows(rows: readonly Row[], options: UpsertOptions): Row[] {
  const add = new Set(options.add ?? []);
  const byKey = new Map<string, Row>();
  for (const row of rows) {
    const id = JSON.stringify(options.key.map((k) => row[k]));
    const seen = byKey.get(id);
    if (!seen) {
      byKey.set(id, { ...row });
      continue;
    }
    for (const [column, value] of Object.entries(row)) {
      seen[column] = add.has(column) ? (seen[column] as number) + (value as number) : value;
    }
  }
  return [...byKey.values()];
}

function parts(table: string, rows: readonly Row[], options: UpsertOptions) {
  const columns = Object.keys(rows[0] as Row);
  if (options.key.length === 0) throw new EsError('USAGE', 'upsert: `key` names no column');
  for (const k of [...options.key, ...(options.add ?? [])]) {
    if (!columns.includes(k)) throw new EsError('USAGE', `upsert: the rows have no column "${k}"`);
  }
  const add = new Set(options.add ?? []);
  const target = tableName(table);
  const alias = '"es_upsert"';
  const set = columns
    .filter((c) => !options.key.includes(c))
    .map((c) => `${quoted(c)} = ${add.has(c) ? `${alias}.${quoted(c)} + excluded.${quoted(c)}` : `excluded.${quoted(c)}`}`);
  const onConflict = `ON CONFLICT (${options.key.map(quoted).join(', ')}) ${set.length > 0 ? `DO UPDATE SET ${set.join(', ')}` : 'DO NOTHING'}`;
  return { columns, target, alias, onConflict };
}

/** SQLite (better-sqlite3): one prepared statement, run once per merged row. */
export function sqliteUpsert(
  db: { prepare(sql: string): { run(...values: unknown[]): unknown } },
  table: string,
  rows: readonly Row[],
  options: UpsertOptions,
): void {
  if (rows.length === 0) return;
  const merged = mergeRows(rows, options);
  const { columns, target, alias, onConflict } = parts(table, merged, options);
  const statement = db.prepare(
    `INSERT INTO ${target} AS ${alias} (${columns.map(quoted).join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ${onConflict}`,
  );
  for (const row of merged) statement.run(...columns.map((c) => row[c] ?? null));
}

/**
 * PostgreSQL (node-postgres): one statement for all the rows, whatever their number. The rows travel
 * as one JSON parameter, typed by the table's own columns (json_populate_recordset).
 */
export async function pgUpsert(
  db: { query(text: string, values?: unknown[]): Promise<unknown> },
  table: string,
  rows: readonly Row[],
  options: UpsertOptions,
): Promise<void> {
  if (rows.length === 0) return;
  const merged = mergeRows(rows, options);
  const { columns, target, alias, onConflict } = parts(table, merged, options);
  const list = columns.map(quoted).join(', ');
  await db.query(`INSERT INTO ${target} AS ${alias} (${list}) SELECT ${list} FROM json_populate_recordset(null::${target}, $1::json) ${onConflict}`, [
    JSON.stringify(merged),
  ]);
}
