/**
 * Whole PostgreSQL clusters of their own, for tests that move a store from one server to another
 * (pg_dump and restore). They need the server's programs (initdb, pg_ctl, pg_dump, psql): Debian's
 * `postgresql` package, or the folder in ES_TEST_PG_BIN. Without them the suite says it did not run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { freePort } from './free-port.js';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';

const NEEDED = ['initdb', 'pg_ctl', 'pg_dump', 'psql'];

function findBin(): string | undefined {
  const candidates = [
    process.env.ES_TEST_PG_BIN,
    ...(existsSync('/usr/lib/postgresql')
      ? readdirSync('/usr/lib/postgresql')
          .sort()
          .reverse()
          .map((v) => `/usr/lib/postgresql/${v}/bin`)
      : []),
  ];
  return candidates.find((dir): dir is string => !!dir && NEEDED.every((name) => existsSync(join(dir, name))));
}

export const pgBin = findBin();

/** `describe` when the programs are there; otherwise skipped with its reason, said plainly on stderr. */
export function describeClusters(name: string, body: () => void): void {
  if (pgBin) {
    describe(name, body);
    return;
  }
  const why = `no PostgreSQL programs (${NEEDED.join(', ')}) in /usr/lib/postgresql/*/bin or ES_TEST_PG_BIN`;
  process.stderr.write(`PostgreSQL cluster tests did not run (${name}): ${why}\n`);
  describe.skip(`${name} (did not run: ${why})`, body);
}

/** The server refuses to run as root: as root, its programs run as the `postgres` user. */
function asServerUser(program: string, args: string[]): void {
  const path = join(pgBin as string, program);
  const root = userInfo().uid === 0;
  const result = root ? spawnSync('runuser', ['-u', 'postgres', '--', path, ...args], { encoding: 'utf8' }) : spawnSync(path, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${program} ${args.join(' ')} failed: ${result.stderr || result.stdout || result.error}`);
}

export interface Cluster {
  port: number;
  data: string;
  url(database: string): string;
  /** Runs SQL in `database` through psql. */
  sql(database: string, text: string): string;
  stop(): void;
}

/** A new cluster on a free port; `burnXids` transactions are spent first, so its counter starts ahead. */
export async function startCluster(options: { burnXids?: number } = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'es-cluster-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  if (userInfo().uid === 0) {
    const ids = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
    const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
    chownSync(dir, Number(ids), Number(gid));
  }
  asServerUser('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  asServerUser('pg_ctl', ['-D', data, '-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  const cluster: Cluster = {
    port,
    data,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    sql: (database, text) =>
      execFileSync(join(pgBin as string, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', text, cluster.url(database)], { encoding: 'utf8' }),
    stop: () => {
      try {
        asServerUser('pg_ctl', ['-D', cluster.data, '-m', 'fast', 'stop']);
      } catch {
        // stopped already (an upgrade stops it)
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (options.burnXids) {
    cluster.sql('postgres', `DO $$ BEGIN FOR i IN 1..${options.burnXids} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`);
  }
  return cluster;
}

/** Copies a database from one cluster to another as a move does: pg_dump, then psql on a new database. */
export function moveDatabase(from: Cluster, fromDb: string, to: Cluster, toDb: string): void {
  to.sql('postgres', `CREATE DATABASE "${toDb}"`);
  const dump = execFileSync(join(pgBin as string, 'pg_dump'), ['--no-owner', from.url(fromDb)], { maxBuffer: 1 << 28 });
  execFileSync(join(pgBin as string, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', to.url(toDb)], { input: dump, stdio: ['pipe', 'ignore', 'pipe'] });
}

/**
 * Upgrades a cluster in place as pg_upgrade does (a new cluster, the old one's data and transaction
 * counter carried over), then starts the new one on the old one's port.
 */
export function upgradeCluster(old: Cluster): void {
  const bin = pgBin as string;
  asServerUser('pg_ctl', ['-D', old.data, '-m', 'fast', '-w', 'stop']);
  const next = `${old.data}-next`;
  asServerUser('initdb', ['-D', next, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const work = join(old.data, '..');
  const root = userInfo().uid === 0;
  const args = ['-b', bin, '-B', bin, '-d', old.data, '-D', next, '-U', 'postgres', '-p', String(old.port), '-P', String(old.port), '--link'];
  const result = root
    ? spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_upgrade'), ...args], { cwd: work, encoding: 'utf8' })
    : spawnSync(join(bin, 'pg_upgrade'), args, { cwd: work, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`pg_upgrade failed: ${result.stdout}${result.stderr}`);
  rmSync(old.data, { recursive: true, force: true });
  asServerUser('pg_ctl', ['-D', next, '-w', '-l', join(work, 'log'), '-o', `-p ${old.port} -k ${work} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  old.data = next;
}
