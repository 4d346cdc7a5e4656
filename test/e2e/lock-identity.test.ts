import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { appendMany, cleanupTempDirs, es, esBackground, tempDir, writeRecorder } from './helpers.js';

afterAll(cleanupTempDirs);

const LINUX = existsSync('/proc/self/ns/pid') && existsSync('/proc/sys/kernel/random/boot_id');
if (!LINUX) console.warn('lock-identity.test.ts: no /proc pid namespace or boot id here; the holder-identity checks did NOT run');
const MY_NS = LINUX ? readlinkSync('/proc/self/ns/pid') : '';
const MY_BOOT = LINUX ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : '';

/** The pid of a process that has exited (and whose pid is not reused this soon). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function workspace(): string {
  const dir = tempDir('es-lock-id-');
  writeRecorder(join(dir, 'projections'), 'rec');
  appendMany(dir, 'orders-1', 'OrderPlaced', 5);
  return dir;
}

/** Writes a live-looking lease for `rec` held by `pid` on this host, with the given identity. */
function plantLock(dir: string, pid: number, pidNamespace: string | null, bootId: string | null): void {
  const db = new Database(join(dir, '.es', 'events.db'));
  try {
    const columns = (db.prepare('PRAGMA table_info(es_locks)').all() as { name: string }[]).map((c) => c.name);
    const withIdentity = columns.includes('pid_ns') && columns.includes('boot_id');
    const values = [new Date().toISOString(), Date.now() + 30_000];
    if (withIdentity) {
      db.prepare(
        `INSERT OR REPLACE INTO es_locks (name, owner_id, pid, host, since, expires_at, pid_ns, boot_id)
         VALUES ('rec', 'planted', ${pid}, ?, ?, ?, ?, ?)`,
      ).run(hostname(), ...values, pidNamespace, bootId);
    } else {
      db.prepare(`INSERT OR REPLACE INTO es_locks (name, owner_id, pid, host, since, expires_at) VALUES ('rec', 'planted', ${pid}, ?, ?, ?)`).run(
        hostname(),
        ...values,
      );
    }
  } finally {
    db.close();
  }
}

describe.skipIf(!LINUX)('a dead-looking holder on the same host name', () => {
  it('in another PID namespace, after another boot, or of unknown identity, is left alone until its lease runs out (exit 75)', () => {
    const dir = workspace();
    const pid = deadPid();
    const cases: [string, string | null, string | null][] = [
      ['another PID namespace', 'pid:[4000000001]', MY_BOOT],
      ['another boot', MY_NS, '00000000-0000-4000-8000-000000000000'],
      ['no identity (written by an older es)', null, null],
    ];
    for (const [what, ns, boot] of cases) {
      plantLock(dir, pid, ns, boot);
      const r = es(dir, ['project', 'run', 'rec']);
      expect({ what, code: r.code }).toEqual({ what, code: 75 });
      expect(r.stderr).toContain(`pid ${pid}`);
    }
  });

  it('in this PID namespace and boot, whose pid is gone, is replaced at once', () => {
    const dir = workspace();
    plantLock(dir, deadPid(), MY_NS, MY_BOOT);
    const r = es(dir, ['project', 'run', 'rec', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('is recorded with the identity of the process that holds the lock', async () => {
    const dir = workspace();
    const db = new Database(join(dir, '.es', 'events.db'));
    try {
      // A lock row exists only while its holder runs: read it from a follower.
      const follower = esBackground(dir, ['project', 'run', 'rec', '--follow']);
      const deadline = Date.now() + 20_000;
      let row: { pid: number; pid_ns: string | null; boot_id: string | null } | undefined;
      while (Date.now() < deadline && !row) {
        row = db.prepare(`SELECT pid, pid_ns, boot_id FROM es_locks WHERE name = 'rec'`).get() as typeof row;
        if (!row) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      follower.child.kill('SIGTERM');
      await follower.exited;
      expect(row).toEqual({ pid: follower.child.pid, pid_ns: MY_NS, boot_id: MY_BOOT });
    } finally {
      db.close();
    }
  });
});
