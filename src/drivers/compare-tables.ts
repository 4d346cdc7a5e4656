import type { RowDifference, TableComparison } from '../ports/shadow.js';

type Row = Record<string, unknown>;

/** A column as the comparison needs it: its name, and its place in the primary key (0: not in it). */
export interface Column {
  name: string;
  pk: number;
}

/** What differs from one database to another in comparing two tables (see compareTables). */
export interface CompareDialect {
  quote(name: string): string;
  /** Key columns equal: `=` where they cannot be null (a primary key) lets the index answer. */
  same(a: string, b: string, nullable: boolean): string;
  /** Two values differ, nulls included. */
  differs(a: string, b: string): string;
  /** Rows of a query whose only parameters are `params` (the last one its LIMIT), as `?` marks. */
  rows(sql: string, params: readonly unknown[]): Promise<Row[]>;
}

/**
 * Compares the live table and the copy row by row, by primary key (by every column when there is
 * none): how many rows only the live one has, only the copy has, and with the same key but other
 * values, and the first `limit` of each. Columns only one side has are named in `note`, and every
 * row matched by key then counts as different. `liveCols`/`copyCols` empty: that side has no table.
 */
export async function compareTables(
  d: CompareDialect,
  table: string,
  sides: { live: string; copy: string; liveCols: readonly Column[]; copyCols: readonly Column[] },
  limit: number,
): Promise<TableComparison> {
  const { live, copy, liveCols, copyCols } = sides;
  const count = async (sql: string): Promise<number> => Number((await d.rows(`SELECT count(*) AS n FROM (${sql}) x`, []))[0]?.n ?? 0);
  const whole = async (rel: string, kind: 'onlyLive' | 'onlyRebuilt', note: string): Promise<TableComparison> => {
    const rows = await d.rows(`SELECT * FROM ${rel} LIMIT ?`, [limit]);
    const n = await count(`SELECT 1 AS one FROM ${rel}`);
    const examples = rows.map((r): RowDifference => ({ kind, key: r, live: kind === 'onlyLive' ? r : null, rebuilt: kind === 'onlyRebuilt' ? r : null }));
    return { name: table, onlyLive: kind === 'onlyLive' ? n : 0, onlyRebuilt: kind === 'onlyRebuilt' ? n : 0, different: 0, examples, note };
  };
  if (liveCols.length === 0 && copyCols.length === 0)
    return { name: table, onlyLive: 0, onlyRebuilt: 0, different: 0, examples: [], note: 'neither side has this table' };
  if (liveCols.length === 0) return whole(copy, 'onlyRebuilt', 'the live read model has no such table');
  if (copyCols.length === 0) return whole(live, 'onlyLive', 'the rebuilt read model has no such table');
  const lower = (c: Column) => c.name.toLowerCase();
  const liveNames = new Set(liveCols.map(lower));
  const copyNames = new Set(copyCols.map(lower));
  const common = copyCols.filter((c) => liveNames.has(lower(c)));
  const onlyOne = [...liveCols.filter((c) => !copyNames.has(lower(c))), ...copyCols.filter((c) => !liveNames.has(lower(c)))];
  const pk = common.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
  const key = pk.length > 0 ? pk : common;
  const rest = common.filter((c) => !key.includes(c));
  const col = (alias: string, c: Column) => `${alias}.${d.quote(c.name)}`;
  const on = key.map((c) => d.same(col('r', c), col('l', c), pk.length === 0)).join(' AND ');
  const differs = rest.length > 0 ? rest.map((c) => d.differs(col('l', c), col('r', c))).join(' OR ') : '1 = 0';
  const onlyLiveSql = `SELECT l.* FROM ${live} l WHERE NOT EXISTS (SELECT 1 FROM ${copy} r WHERE ${on})`;
  const onlyCopySql = `SELECT r.* FROM ${copy} r WHERE NOT EXISTS (SELECT 1 FROM ${live} l WHERE ${on})`;
  const pairsSql = `SELECT ${key.map((c) => col('l', c)).join(', ')} FROM ${live} l JOIN ${copy} r ON ${on} WHERE ${differs}`;
  const keyOf = (row: Row): Row => Object.fromEntries(key.map((c) => [c.name, row[c.name] ?? null]));
  const byKey = `WHERE ${key.map((c) => d.same(d.quote(c.name), '?', true)).join(' AND ')} LIMIT 1`;
  const examples: RowDifference[] = [];
  for (const r of await d.rows(`${onlyLiveSql} LIMIT ?`, [limit])) examples.push({ kind: 'onlyLive', key: keyOf(r), live: r, rebuilt: null });
  for (const r of await d.rows(`${onlyCopySql} LIMIT ?`, [limit])) examples.push({ kind: 'onlyRebuilt', key: keyOf(r), live: null, rebuilt: r });
  for (const k of await d.rows(`${pairsSql} LIMIT ?`, [limit])) {
    const values = key.map((c) => k[c.name]);
    const [l] = await d.rows(`SELECT * FROM ${live} ${byKey}`, values);
    const [r] = await d.rows(`SELECT * FROM ${copy} ${byKey}`, values);
    examples.push({ kind: 'different', key: keyOf(k), live: l ?? null, rebuilt: r ?? null });
  }
  const result: TableComparison = {
    name: table,
    onlyLive: await count(onlyLiveSql),
    onlyRebuilt: await count(onlyCopySql),
    different: await count(pairsSql),
    examples,
  };
  if (onlyOne.length > 0) {
    result.note = `columns only one side has: ${onlyOne.map((c) => c.name).join(', ')}`;
    if (result.different === 0) result.different = await count(`SELECT 1 AS one FROM ${live} l JOIN ${copy} r ON ${on}`);
  }
  return result;
}
