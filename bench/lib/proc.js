// Child processes, timed from spawn to exit, with their peak memory (max RSS).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * GNU time reports the child's max RSS from wait4(2): exact, and it costs nothing while the child
 * runs. Without it, VmHWM (the kernel's own high-water mark) is sampled from /proc every 20 ms;
 * being a high-water mark, only growth in the last interval before exit can be missed.
 */
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
export const rssMethod = GNU_TIME ? 'GNU time (wait4 max RSS)' : '/proc/<pid>/status VmHWM, sampled every 20 ms';

function readHwmKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs `command args…` and resolves { code, signal, stdout, stderr, wallMs, maxRssKb, cpuMs }.
 * cpuMs (user + system time of the child) comes with GNU time only; it is what contention on a
 * shared machine disturbs least.
 * `onSpawn(child)` lets a caller signal it; `timeoutMs` kills it (SIGKILL) when it overstays.
 * `countStdout`: stdout is read through the pipe as usual but only counted (stdoutBytes,
 * stdoutLines), for outputs too large to keep (`es read --json` of millions of events).
 */
export function run(command, args, { cwd, env, timeoutMs = 30 * 60_000, onSpawn, measureRss = true, countStdout = false } = {}) {
  return new Promise((resolve, reject) => {
    let timeFile = null;
    let cmd = command;
    let argv = args;
    if (measureRss && GNU_TIME) {
      const dir = mkdtempSync(join(tmpdir(), 'es-bench-'));
      timeFile = join(dir, 'rss');
      cmd = GNU_TIME;
      argv = ['-f', '%M %U %S', '-o', timeFile, command, ...args];
    }
    const started = performance.now();
    const child = spawn(cmd, argv, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let stdoutBytes = 0;
    let stdoutLines = 0;
    child.stdout.on('data', (d) => {
      if (!countStdout) stdout += d;
      stdoutBytes += d.length;
      for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) stdoutLines += 1;
    });
    child.stderr.on('data', (d) => (stderr += d));
    let hwm = 0;
    const sampler =
      measureRss && !GNU_TIME
        ? setInterval(() => {
            hwm = Math.max(hwm, readHwmKb(child.pid));
          }, 20)
        : null;
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    onSpawn?.(child);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const wallMs = performance.now() - started;
      clearTimeout(killer);
      if (sampler) clearInterval(sampler);
      let maxRssKb = measureRss ? hwm : null;
      let cpuMs = null;
      if (timeFile) {
        try {
          // GNU time prints "Command exited with non-zero status N" before the figures when the child fails.
          const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
          const [rss, user, sys] = lines[lines.length - 1].split(' ').map(Number);
          maxRssKb = rss;
          cpuMs = (user + sys) * 1000;
        } catch {
          maxRssKb = null;
        }
        rmSync(join(timeFile, '..'), { recursive: true, force: true });
      }
      resolve({ code, signal, stdout, stderr, wallMs, maxRssKb, cpuMs, stdoutBytes, stdoutLines });
    });
  });
}

/** Like run, but rejects on a non-zero exit, with the child's stderr in the message. */
export async function runOk(command, args, options) {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code ?? result.signal}:\n${result.stderr.slice(-2000)}`);
  }
  return result;
}
