/**
 * Whole PostgreSQL clusters of their own, for tests that move a store from one server to another
 * (pg_dump and restore). They need the server's programs (initdb, pg_ctl, pg_dump, psql,
 * pg_upgrade): Debian's `postgresql` package, or the folder in ES_TEST_PG_BIN; and, run as root,
 * `runuser` and a `postgres` user to run them as. Without them the suite says it did not run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { freePort } from './free-port.js';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe } from 'vitest';

const NEEDED = ['initdb', 'pg_ctl', 'pg_dump', 'psql', 'pg_upgrade'];

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

/** Where system programs are looked for: PATH, then the usual folders (as root, PATH may leave out the sbin ones). */
const SYSTEM_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** A program's full path, from PATH or the usual folders, or undefined. */
function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((dir) => dir.startsWith('/')), ...SYSTEM_DIRS];
  return dirs
    .map((dir) => join(dir, name))
    .find((path) => {
      try {
        return statSync(path).isFile() && (statSync(path).mode & 0o111) !== 0;
      } catch {
        return false;
      }
    });
}

interface Tools {
  /** The folder of the server's programs. */
  bin: string;
  /** Run as root: `runuser` and the `postgres` user's ids, to run the server's programs as that user. */
  asPostgres?: { runuser: string; uid: number; gid: number };
}

/** What the clusters need, found; or why they cannot be started here. */
function findTools(): { tools: Tools; missing?: undefined } | { tools?: undefined; missing: string } {
  const bin = findBin();
  if (!bin) return { missing: `no PostgreSQL programs (${NEEDED.join(', ')}) in /usr/lib/postgresql/*/bin or ES_TEST_PG_BIN` };
  if (userInfo().uid !== 0) return { tools: { bin } };
  const where = `PATH, ${SYSTEM_DIRS.join(', ')}`;
  const runuser = findProgram('runuser');
  if (!runuser) return { missing: `run as root, the server's programs run as the postgres user through runuser, which is not in ${where}` };
  const id = findProgram('id');
  if (!id) return { missing: `run as root, the postgres user's ids are read with id, which is not in ${where}` };
  const uid = spawnSync(id, ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync(id, ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return { missing: "run as root, the server's programs run as a postgres user, and there is none" };
  return { tools: { bin, asPostgres: { runuser, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } } };
}

const found = findTools();

/** Whether clusters can be started here; when not, `clustersMissing` says why. */
export const canStartClusters = found.tools !== undefined;
export const clustersMissing = found.missing;

function tools(): Tools {
  if (!found.tools) throw new Error(`no PostgreSQL clusters here: ${found.missing}`);
  return found.tools;
}

/** `describe` when clusters can be started; otherwise skipped with its reason, said plainly on stderr. */
export function describeClusters(name: string, body: () => void): void {
  if (canStartClusters) {
    describe(name, body);
    return;
  }
  const why = clustersMissing as string;
  process.stderr.write(`PostgreSQL cluster tests did not run (${name}): ${why}\n`);
  describe.skip(`${name} (did not run: ${why})`, body);
}

/** Runs one of the server's programs; the server refuses to run as root: as root, as the `postgres` user. */
function spawnAsServerUser(program: string, args: string[], options: { cwd?: string } = {}) {
  const { bin, asPostgres } = tools();
  const path = join(bin, program);
  return asPostgres
    ? spawnSync(asPostgres.runuser, ['-u', 'postgres', '--', path, ...args], { ...options, encoding: 'utf8' })
    : spawnSync(path, args, { ...options, encoding: 'utf8' });
}

function asServerUser(program: string, args: string[]): void {
  const result = spawnAsServerUser(program, args);
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
  const { bin, asPostgres } = tools();
  const dir = mkdtempSync(join(tmpdir(), 'es-cluster-'));
  const data = join(dir, 'data');
  // Stops the server in `dataDir` if one runs there, and removes the folder: on stop, and when setting up fails.
  const stopAndRemove = (dataDir: string) => {
    try {
      asServerUser('pg_ctl', ['-D', dataDir, '-m', 'fast', 'stop']);
    } catch {
      // not started, or stopped already (an upgrade stops it)
    }
    rmSync(dir, { recursive: true, force: true });
  };
  let port: number;
  try {
    chmodSync(dir, 0o755);
    if (asPostgres) chownSync(dir, asPostgres.uid, asPostgres.gid);
    asServerUser('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    port = await freePort();
    asServerUser('pg_ctl', ['-D', data, '-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  } catch (error) {
    stopAndRemove(data);
    throw error;
  }
  const cluster: Cluster = {
    port,
    data,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    sql: (database, text) =>
      execFileSync(join(bin, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', text, cluster.url(database)], { encoding: 'utf8' }),
    stop: () => stopAndRemove(cluster.data),
  };
  if (options.burnXids) {
    try {
      cluster.sql('postgres', `DO $$ BEGIN FOR i IN 1..${options.burnXids} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`);
    } catch (error) {
      cluster.stop();
      throw error;
    }
  }
  return cluster;
}

/** Copies a database from one cluster to another as a move does: pg_dump, then psql on a new database. */
export function moveDatabase(from: Cluster, fromDb: string, to: Cluster, toDb: string): void {
  to.sql('postgres', `CREATE DATABASE "${toDb}"`);
  const { bin } = tools();
  const dump = execFileSync(join(bin, 'pg_dump'), ['--no-owner', from.url(fromDb)], { maxBuffer: 1 << 28 });
  execFileSync(join(bin, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', to.url(toDb)], { input: dump, stdio: ['pipe', 'ignore', 'pipe'] });
}

/**
 * Upgrades a cluster in place as pg_upgrade does (a new cluster, the old one's data and transaction
 * counter carried over), then starts the new one on the old one's port.
 */
export function upgradeCluster(old: Cluster): void {
  const { bin } = tools();
  asServerUser('pg_ctl', ['-D', old.data, '-m', 'fast', '-w', 'stop']);
  const next = `${old.data}-next`;
  asServerUser('initdb', ['-D', next, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const work = join(old.data, '..');
  const args = ['-b', bin, '-B', bin, '-d', old.data, '-D', next, '-U', 'postgres', '-p', String(old.port), '-P', String(old.port), '--link'];
  const result = spawnAsServerUser('pg_upgrade', args, { cwd: work });
  if (result.status !== 0) throw new Error(`pg_upgrade failed: ${result.stdout}${result.stderr}`);
  rmSync(old.data, { recursive: true, force: true });
  asServerUser('pg_ctl', ['-D', next, '-w', '-l', join(work, 'log'), '-o', `-p ${old.port} -k ${work} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  old.data = next;
}
