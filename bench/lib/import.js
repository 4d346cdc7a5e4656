// Peak memory of `es import` at two sizes. The input is streamed into one transaction, so the peak
// must not grow with the file: the same events as the generated stores, written as NDJSON.
import { once } from 'node:events';
import { createWriteStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { GENERATOR_VERSION, eventSource } from './generate.js';
import { max, median } from './stats.js';

/** The first `count` events of the benchmark log as an NDJSON file, cached beside the stores. */
export async function cachedNdjson(dataDir, count, log = () => {}) {
  const path = `${dataDir}/import-${count}-g${GENERATOR_VERSION}.ndjson`;
  if (existsSync(path)) return path;
  log(`writing ${count.toLocaleString('en-US')} events as NDJSON into ${path} ...`);
  const tmp = `${path}.partial`;
  const out = createWriteStream(tmp);
  const source = eventSource();
  for (let done = 0; done < count;) {
    let text = '';
    for (const end = Math.min(count, done + 1000); done < end; done++) {
      const e = source.next();
      // The generator's ids, streams and types need no JSON escaping; data is JSON already.
      text += `{"id":"${e.id}","streamId":"${e.streamId}","type":"${e.type}","data":${e.data}}\n`;
    }
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  renameSync(tmp, path);
  return path;
}

const removeStore = (db) => {
  for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
};

/**
 * `es import <file> --json` into a fresh store, `runs` times per size.
 * `es(db, args)` runs es as a child process and resolves { code, stdout, stderr, wallMs, cpuMs, maxRssKb }.
 */
export async function measureImport({ data, sizes, runs, es, log = () => {} }) {
  const rows = [];
  for (const events of sizes) {
    const file = await cachedNdjson(data, events, log);
    const db = `${data}/import-target.db`;
    const measured = [];
    for (let r = 0; r < runs; r++) {
      removeStore(db);
      const result = await es(db, ['import', file, '--json']);
      if (result.code !== 0) throw new Error(`es import exited ${result.code}:\n${result.stderr.slice(-2000)}`);
      const out = JSON.parse(result.stdout);
      if (out.appended !== events) throw new Error(`es import appended ${out.appended} of ${events} events`);
      measured.push(result);
      log(`  import of ${events.toLocaleString('en-US')} events: ${(result.wallMs / 1000).toFixed(1)} s, peak ${(result.maxRssKb / 1024).toFixed(0)} MB`);
    }
    removeStore(db);
    rows.push({
      events,
      bytes: statSync(file).size,
      maxRssKb: max(measured.map((m) => m.maxRssKb)),
      wallMs: median(measured.map((m) => m.wallMs)),
      cpuMs: median(measured.map((m) => m.cpuMs)),
      runs: measured.map((m) => ({ wallMs: m.wallMs, maxRssKb: m.maxRssKb })),
    });
  }
  const first = rows[0];
  const last = rows[rows.length - 1];
  return { sizes: rows, growth: last.maxRssKb / first.maxRssKb };
}
