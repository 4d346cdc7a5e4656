import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // no /proc/cpuinfo: os.cpus() below
  }
  return cpus()[0]?.model ?? 'unknown';
}

function nproc() {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return cpus().length;
  }
}

function sqliteVersion(root) {
  try {
    return execFileSync(
      process.execPath,
      ['-e', "const D=require('better-sqlite3');console.log(new D(':memory:').prepare('select sqlite_version()').pluck().get())"],
      {
        cwd: root,
        encoding: 'utf8',
      },
    ).trim();
  } catch {
    return 'unknown';
  }
}

export function machine(root) {
  return {
    nproc: nproc(),
    cpu: cpuModel(),
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    sqlite: sqliteVersion(root),
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}
