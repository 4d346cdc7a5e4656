// The figures as a terminal table, as BENCHMARKS.md, and as an SVG bar chart.
import { appendRows } from './append.js';

const n0 = (n) => Math.round(n).toLocaleString('en-US');
const ms = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : `${n0(v)} ms`);
const ms1 = (v) => `${v.toFixed(1)} ms`;
const mb = (kb) => `${(kb / 1024).toFixed(0)} MB`;
const rate = (v) => `${n0(v)} ev/s`;
const pct = (r) => `${(r * 100).toFixed(1)} %`;
const x = (r) => `${r.toFixed(2)}x`;
const count = (n) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : n0(n));

/** Each target: what it asks, what was measured, met or by how much it is missed. */
export function targets(r) {
  const list = [];
  const s = r.single;
  list.push({
    target: 'rebuild of one projection ≥ 90 % of the floor’s throughput',
    measured: `${pct(s.ratio)} (${rate(s.es.eventsPerSec)} vs ${rate(s.floor.eventsPerSec)}, ${count(s.events)} events; by CPU time ${pct(s.cpuRatio)})`,
    met: s.ratio >= 0.9,
    miss: `${((0.9 - s.ratio) * 100).toFixed(1)} points short`,
  });
  const f = r.five;
  list.push({
    target: 'five projections together ≤ 2x the time of one',
    measured: `${x(f.ratioToOne)} (${ms(f.together.wallMs)} vs ${ms(s.es.wallMs)}; by CPU time ${x(f.cpuRatioToOne)})`,
    met: f.ratioToOne <= 2,
    miss: `${x(f.ratioToOne / 2)} the allowed time (${ms(f.together.wallMs - 2 * s.es.wallMs)} over)`,
  });
  const m = r.memory;
  if (m.bigMb !== null) {
    const under = m.smallMb < 256 && m.bigMb < 256;
    const flat = m.growth <= 1.2;
    list.push({
      target: `peak memory of a rebuild < 256 MB, and ≤ 1.2x from ${count(r.options.events)} to ${count(r.options.big)} events`,
      measured: `${m.smallMb.toFixed(0)} MB → ${m.bigMb.toFixed(0)} MB (${x(m.growth)})`,
      met: under && flat,
      miss: [!under && `${Math.max(m.smallMb, m.bigMb).toFixed(0)} MB is over 256 MB`, !flat && `grows ${x(m.growth)}`].filter(Boolean).join('; '),
    });
  }
  if (r.import && r.import.sizes.length > 1) {
    const [a, b] = [r.import.sizes[0], r.import.sizes[r.import.sizes.length - 1]];
    list.push({
      target: `peak memory of \`es import\` ≤ 1.2x from ${count(a.events)} to ${count(b.events)} events (streamed, flat)`,
      measured: `${mb(a.maxRssKb)} → ${mb(b.maxRssKb)} (${x(r.import.growth)})`,
      met: r.import.growth <= 1.2,
      miss: `grows ${x(r.import.growth)}`,
    });
  }
  if (r.status) {
    const st = r.status.all.medianMs;
    list.push({
      target: `\`es project status\` < 100 ms on ${count(r.options.big)} events, caught up`,
      measured: `${ms(st)} median as a whole process (engine part ${ms1(r.status.engine.medianMs)}; \`node -e 0\` alone ${ms(r.status.nodeAlone.medianMs)})`,
      met: st < 100,
      miss: `${ms(st - 100)} over (${x(st / 100)})`,
    });
    if (r.status.pending) {
      const pt = r.status.pending.medianMs;
      list.push({
        target: `\`es project status\` with ${count(r.status.pendingLag)} events pending per projection: as fast as caught up (≤ 1.1x, or 10 ms more)`,
        measured: `${ms(pt)} against ${ms(st)} caught up (${x(pt / st)}), medians of interleaved runs`,
        met: pt <= Math.max(1.1 * st, st + 10),
        miss: `${ms(pt)}, ${x(pt / st)} the caught-up time`,
      });
    }
  }
  if (r.read?.big) {
    const rd = r.read;
    list.push({
      target: `peak memory of \`es read --json\` flat: ≤ 1.2x from ${count(rd.small.events)} to ${count(rd.big.events)} events`,
      measured: `${mb(rd.small.maxRssKb)} → ${mb(rd.big.maxRssKb)} (${x(rd.growth)})`,
      met: rd.growth <= 1.2,
      miss: `grows ${x(rd.growth)}`,
    });
  }
  if (r.follow) {
    list.push({
      target: '`--follow` latency p99 < 100 ms (append commit → read-model commit)',
      measured: `p99 ${ms1(r.follow.p99)}, p50 ${ms1(r.follow.p50)}`,
      met: r.follow.p99 < 100,
      miss: `${ms1(r.follow.p99 - 100)} over`,
    });
  }
  if (r.peer) {
    const p = r.peer;
    list.push({
      target: '≥ 50x Emmett’s throughput on the same work',
      measured: p.emmett
        ? `${p.ratio.toFixed(1)}x (${rate(p.local.es.engineEventsPerSec)} vs ${rate(p.emmett.consumerEventsPerSec)} on the same ${count(p.events)} events, both without process start-up; whole es process ${p.processRatio.toFixed(1)}x)`
        : `not measured: ${p.skipped ?? p.error}`,
      met: p.emmett ? p.ratio >= 50 : null,
      miss: p.emmett ? `${(50 / p.ratio).toFixed(2)}x short of 50x` : '',
    });
  }
  return list;
}

const verdict = (t) => (t.met === null ? 'not measured' : t.met ? 'met' : `**missed**: ${t.miss}`);

/** Rows of the figures table: [what, figure, note]. */
function figureRows(r) {
  const s = r.single;
  const f = r.five;
  const rows = [
    [
      `floor, one projection (${count(s.events)} events)`,
      `${rate(s.floor.eventsPerSec)}`,
      `${ms(s.floor.wallMs)} process (CPU ${ms(s.floor.cpuMs)}); ${ms(s.floor.loopMs)} in its loop`,
    ],
    [
      `es project rebuild streams (${count(s.events)})`,
      `${rate(s.es.eventsPerSec)}`,
      `${ms(s.es.wallMs)} process (CPU ${ms(s.es.cpuMs)}); ${ms(s.es.engineMs)} in the engine (${rate(s.es.engineEventsPerSec)})`,
    ],
    ['es / floor', pct(s.ratio), `by CPU time ${pct(s.cpuRatio)}; engine loop / floor loop ${pct(s.engineRatio)}`],
    [
      `es project rebuild of 5 projections, one command`,
      ms(f.together.wallMs),
      `${x(f.ratioToOne)} one projection’s time (CPU ${ms(f.together.cpuMs)}, ${x(f.cpuRatioToOne)})`,
    ],
    [
      'the same 5, one process each',
      ms(f.oneByOne.wallMs),
      `CPU ${ms(f.oneByOne.cpuMs)}; ${Object.entries(f.oneByOne.parts)
        .map(([k, v]) => `${k} ${ms(v)}`)
        .join(', ')}`,
    ],
    ['floor, 5 projections in one pass', ms(f.floor.wallMs), `CPU ${ms(f.floor.cpuMs)}; ${x(f.floorRatioToOne)} the floor’s one projection`],
    [`peak RSS, rebuild at ${count(r.options.events)}`, `${r.memory.smallMb.toFixed(0)} MB`, `max of ${s.es.maxRssKb.length} runs`],
  ];
  if (r.big) {
    rows.push(
      [`peak RSS, rebuild at ${count(r.options.big)}`, `${r.memory.bigMb.toFixed(0)} MB`, `${x(r.memory.growth)} the ${count(r.options.events)} figure`],
      [
        `es rebuild streams at ${count(r.options.big)}`,
        rate(r.big.es.eventsPerSec),
        `${ms(r.big.es.wallMs)} (CPU ${ms(r.big.es.cpuMs)}); floor ${rate(r.big.floor.eventsPerSec)}, es/floor ${pct(r.big.ratio)}, by CPU ${pct(r.big.cpuRatio)}`,
      ],
    );
  }
  for (const size of r.import?.sizes ?? []) {
    rows.push([
      `peak RSS, es import of ${count(size.events)} NDJSON events`,
      mb(size.maxRssKb),
      `${(size.bytes / 2 ** 20).toFixed(0)} MB file, ${ms(size.wallMs)} (CPU ${ms(size.cpuMs)}), ${rate(size.events / (size.wallMs / 1000))}`,
    ]);
  }
  if (r.status) {
    rows.push(
      [
        `es project status, 5 projections, ${count(r.options.big)}`,
        ms1(r.status.all.medianMs),
        `median of ${r.status.all.runs.length}, max ${ms1(r.status.all.maxMs)}; all caught up`,
      ],
      [`es project status streams`, ms1(r.status.one.medianMs), `max ${ms1(r.status.one.maxMs)}`],
      ...(r.status.pending
        ? [
            [
              `es project status, 5 projections never run`,
              ms1(r.status.pending.medianMs),
              `median of ${r.status.pending.runs.length}, max ${ms1(r.status.pending.maxMs)}; ${count(r.status.pendingLag)} events pending each`,
            ],
          ]
        : []),
      ['status() in process (engine only)', ms1(r.status.engine.medianMs), 'open store + load projections excluded'],
      ['node -e 0 / es --version', `${ms1(r.status.nodeAlone.medianMs)} / ${ms1(r.status.version.medianMs)}`, 'process start alone, for scale'],
    );
  }
  for (const run of [r.read?.small, r.read?.big].filter(Boolean)) {
    rows.push([
      `es read --json, ${count(run.events)} events`,
      mb(run.maxRssKb),
      `peak RSS; ${ms(run.wallMs)} (${rate(run.events / (run.wallMs / 1000))}), ${(run.bytes / 2 ** 20).toFixed(0)} MB of JSON through a pipe`,
    ]);
  }
  if (r.follow) {
    rows.push([
      `--follow latency, ${r.follow.observed} appends ~${r.follow.intervalMs} ms apart`,
      `p50 ${ms1(r.follow.p50)}, p99 ${ms1(r.follow.p99)}`,
      `p90 ${ms1(r.follow.p90)}, max ${ms1(r.follow.max)}; handler ran at p50 ${ms1(r.follow.handlerP50)}`,
    ]);
  }
  if (r.appends) rows.push(...appendRows(r.appends));
  if (r.peer) {
    const p = r.peer;
    rows.push([
      `es rebuild streams (${count(p.events)})`,
      `${rate(p.local.es.engineEventsPerSec)} engine`,
      `${rate(p.local.es.eventsPerSec)} as a whole process (${ms(p.local.es.wallMs)}); floor ${rate(p.local.floor.eventsPerSec)}`,
    ]);
    if (p.emmett) {
      const e = p.emmett;
      rows.push(
        [
          `Emmett consumer (${count(e.events)}, batch ${e.batchSize}, no pause)`,
          rate(e.consumerEventsPerSec),
          `${ms(e.consumerMs)} in process; es engine ${p.ratio.toFixed(1)}x, es process ${p.processRatio.toFixed(1)}x`,
        ],
        [
          `Emmett primitives, one checkpoint a batch`,
          rate(e.primitivesEventsPerSec),
          `${ms(e.primitivesMs)}; es engine ${(p.local.es.engineEventsPerSec / e.primitivesEventsPerSec).toFixed(1)}x`,
        ],
      );
      if (e.defaultsEvents)
        rows.push([`Emmett consumer, default pulling (${count(e.defaultsEvents)})`, rate(e.defaultsEventsPerSec), 'batch 100, 50 ms between batches']);
    } else rows.push(['Emmett', 'not measured', p.skipped ?? p.error]);
  }
  return rows;
}

export function textTable(r) {
  const rows = [['what', 'figure', 'detail'], ...figureRows(r)];
  const widths = [0, 1].map((i) => Math.max(...rows.map((row) => row[i].length)));
  const lines = rows.map((row) => `${row[0].padEnd(widths[0])}  ${row[1].padStart(widths[1])}  ${row[2]}`);
  lines.splice(1, 0, '-'.repeat(Math.min(140, widths[0] + widths[1] + 40)));
  const t = targets(r).map((t) => `${t.met === null ? '·' : t.met ? '✔' : '✖'} ${t.target}: ${t.measured}${t.met === false ? ` — missed: ${t.miss}` : ''}`);
  return `${lines.join('\n')}\n\ntargets\n${t.join('\n')}`;
}

const mdEscape = (s) => String(s).replace(/\|/g, '\\|');

export function markdown(r, { svg, notes }) {
  const m = r.machine;
  const o = r.options;
  const lines = [];
  lines.push('# Benchmarks', '');
  lines.push(
    `Generated by \`bench/run.js\` on ${m.date}; regenerate with \`${r.command}\` (about ${Math.ceil(r.totalMs / 60000)} minutes here).`,
    `Every figure is a median: ${o.runs} runs of the floor / es pair, ${o.fiveRuns} of the five-projection measurements, ${o.bigRuns} at ${count(o.big)} events, ${o.statusRuns} of status; measurements interleaved. Times are whole processes (wall clock) unless said otherwise.`,
    '',
    `![Throughput, events per second](${svg})`,
    '',
    '## Targets',
    '',
    '| target | measured | verdict |',
    '| --- | --- | --- |',
    ...targets(r).map((t) => `| ${mdEscape(t.target)} | ${mdEscape(t.measured)} | ${mdEscape(verdict(t))} |`),
    '',
    '## Figures',
    '',
    '| what | figure | detail |',
    '| --- | ---: | --- |',
    ...figureRows(r).map((row) => `| ${row.map(mdEscape).join(' | ')} |`),
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpu}, \`nproc\` ${m.nproc}, ${m.memoryGb} GB memory, ${m.platform}`,
    `- Node ${m.node}, SQLite ${m.sqlite} (better-sqlite3)${r.peer?.versions ? `; peer: @event-driven-io/emmett-sqlite ${r.peer.versions.emmettSqlite}, sqlite3 ${r.peer.versions.sqlite3}` : ''}`,
    `- Command: \`${r.command}\`${r.git ? ` at commit ${r.git.commit}${r.git.dirtyFiles ? ` with ${r.git.dirtyFiles} uncommitted change(s) in src/, bin/ or package.json` : ''}` : ''}`,
    `- Load average (1, 5, 15 min) before: ${r.loadBefore.map((v) => v.toFixed(2)).join(', ')}; after: ${r.loadAfter.map((v) => v.toFixed(2)).join(', ')}. ${r.loadBefore[0] > m.nproc * 0.5 || r.loadAfter[0] > m.nproc * 0.5 ? 'Other work shared the CPUs during the run, so wall-clock figures are noisy; CPU times (user + system of each process) are given beside them.' : ''}`.trim(),
    `- Sizes: ${n0(o.events)} events (main), ${n0(o.big)} (big), ${n0(o.peerEvents)} (peer); batch size ${o.batch}`,
    `- Generating the logs (bench/lib/generate.js, once; cached in bench/.data/): ${
      [r.generation, r.bigGeneration]
        .filter((g) => g?.ms)
        .map((g) => `${count(g.events)} events in ${(g.ms / 1000).toFixed(0)} s`)
        .join(', ') || 'from an older cache'
    }`,
    '',
    '## How it is measured',
    '',
    '- **The log**: a seeded generator (bench/lib/generate.js) writes orders (created, items added and removed, placed, payment failed or captured, shipped) for many interleaved streams, about 200 bytes of JSON each, straight into an es store’s own schema. The sequence depends only on the seed, so every size is a prefix of the larger ones.',
    '- **The projections** (bench/projections/) are plain `.mjs` files written the obvious way, `db.prepare(sql).run(…)` in each handler. `streams` takes every event (one upsert per event into a row per stream); the other four take all types (`daily`), three (`customers`), two (`skus`) or one (`revenue`).',
    '- **The floor** (bench/floor.js) is the loop one would write by hand with better-sqlite3 for `streams`: select the next 1000 events in position order, `JSON.parse` each one’s data, run the same upsert (same SQL text, bench/projections/_sql.mjs), append a `Checkpoint` event to its own checkpoint stream with the expected version checked and trim it to 10, all in one `BEGIN IMMEDIATE` transaction per batch; same pragmas as es’s projection batches (WAL, synchronous NORMAL, a WAL checkpoint every 10,000 pages). Its five-projection variant does all five upserts in one pass with five checkpoints a batch: a lower bound for a group mode.',
    `- **es** is measured as \`node bin/es.js project rebuild …\`, whole process, as a user runs it. The JSON output’s \`durationMs\` (the engine’s own time, without start-up) is reported beside it. The five-projection figure is \`es project rebuild streams customers skus daily revenue${o.togetherArgs.length ? ` ${o.togetherArgs.join(' ')}` : ''}\`, i.e. whatever that command does now.`,
    `- **Peak memory**: max RSS of the whole process, by ${r.rssMethod}.`,
    '- **status**: `es project status --json` (all five projections, each caught up by a real rebuild) as a whole process, and the engine’s `status()` timed in process.',
    `- **--follow**: \`es project run latency --follow\` (bench/follow/latency.mjs) on a copy of the ${count(o.events)} log; the bench appends \`Ping\` events through the es API on a fixed timeline (${o.followInterval} ms apart on average, ±50 % jitter) and a second connection polls the read model every millisecond: latency is from the append’s commit returning to the row being visible to that connection (so it includes up to ~1 ms of polling).`,
    '- **Emmett** (bench/peers/, installed apart with `npm --prefix bench/peers install`): the same events copied into an Emmett SQLite store in position order, and the same upsert run by an Emmett projection through its own catch-up mechanism, an event-store consumer with a projection processor (`store.consumer(…).processor({ projection })`), given the same batch size and no pause between batches. Also shown: the consumer with its defaults, and Emmett’s primitives (`readMessagesBatch`, one checkpoint per batch) as a lean hand-written catch-up. Emmett is timed in process (its start-up is not counted; es’s is).',
    '',
  );
  if (notes.trim()) lines.push(notes.trim(), '');
  return `${lines.join('\n')}`;
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Horizontal bars of events per second; grey the floor, blue es, orange the peer. */
export function svgChart(r) {
  const bars = [];
  const s = r.single;
  const n = count(s.events);
  bars.push({ label: `floor, 1 projection (${n})`, value: s.floor.eventsPerSec, kind: 'floor' });
  bars.push({ label: `es rebuild, 1 projection (${n})`, value: s.es.eventsPerSec, kind: 'es' });
  bars.push({ label: `floor, 5 projections in one pass (${n})`, value: s.events / (r.five.floor.wallMs / 1000), kind: 'floor' });
  bars.push({ label: `es rebuild, 5 projections (${n})`, value: s.events / (r.five.together.wallMs / 1000), kind: 'es' });
  if (r.big) {
    const b = count(r.big.events);
    bars.push({ label: `floor, 1 projection (${b})`, value: r.big.floor.eventsPerSec, kind: 'floor' });
    bars.push({ label: `es rebuild, 1 projection (${b})`, value: r.big.es.eventsPerSec, kind: 'es' });
  }
  if (r.peer) {
    const p = count(r.peer.events);
    bars.push({ label: `es engine, 1 projection, in process (${p})`, value: r.peer.local.es.engineEventsPerSec, kind: 'es' });
    if (r.peer.emmett) {
      bars.push({ label: `Emmett consumer, in process (${p})`, value: r.peer.emmett.consumerEventsPerSec, kind: 'peer' });
      bars.push({ label: `Emmett primitives, in process (${p})`, value: r.peer.emmett.primitivesEventsPerSec, kind: 'peer' });
    }
  }
  const colors = { floor: '#8c8c8c', es: '#2f6fdf', peer: '#e8832a' };
  const labelW = 320;
  const chartW = 420;
  const valueW = 110;
  const rowH = 26;
  const top = 40;
  const width = labelW + chartW + valueW;
  const height = top + bars.length * rowH + 30;
  const peak = Math.max(...bars.map((b) => b.value));
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">Catch-up throughput, log events per second (higher is better)</text>`,
  ];
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, (b.value / peak) * chartW);
    out.push(
      `<text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${colors[b.kind]}"/>`,
      `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 16}">${esc(n0(b.value))}</text>`,
    );
  });
  const m = r.machine;
  out.push(
    `<text x="10" y="${height - 10}" font-size="11" fill="#555">${esc(`${m.cpu}, ${m.nproc} CPUs, node ${m.node}, ${m.date.slice(0, 10)}; medians; whole processes, except Emmett and the es run beside it (in process)`)}</text>`,
    '</svg>',
    '',
  );
  return out.join('\n');
}
