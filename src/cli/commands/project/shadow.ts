import { EsError, isEsError, usage } from '../../../core/errors.js';
import { parseWholeNumber } from '../../../core/duration.js';
import { sleep } from '../../../core/sleep.js';
import type { Projection } from '../../../core/projection.js';
import { acquireLease, HANDOVER_WAIT_MS, LeaseKeeper, takeOverLease, type Lease } from '../../../engine/lease.js';
import { idleResult } from '../../../engine/results.js';
import { buildCopy } from '../../../engine/shadow/build.js';
import { DEFAULT_PROMOTE_MAX_LAG, dropShadow, promoteShadow, requireTables, type PromoteResult } from '../../../engine/shadow/promote.js';
import { SHADOW_EVENTS, copyLease, copyStream } from '../../../engine/shadow/stream.js';
import { verifyProjection, type VerifyResult } from '../../../engine/shadow/verify.js';
import type { EventStore, ShadowSlot, ShadowSpace } from '../../../ports/event-store.js';
import type { Target } from '../../../ports/target.js';
import { formatCount, formatDuration, plural, printable } from '../../output.js';
import type { Context } from '../../context.js';
import { trapStopSignals } from '../../signals.js';
import { exitFor } from './work/exit.js';
import { checkFlags, optionsFrom, type WorkFlags } from './work/options.js';
import { logIncident, printDocument, progressText, reportOutcome, type Outcome } from './work/present.js';

/**
 * The commands that build a read model beside the live one: `rebuild --shadow`, `promote`,
 * `drop-shadow` and `verify` (see src/engine/shadow/).
 */

/** Before anything opens: every projection named declares its tables. */
function shadowable(projections: readonly Projection<unknown>[]): void {
  for (const p of projections) requireTables(p);
}

/**
 * The store and the projections' targets, opened; a target that cannot be reached fails the command
 * (exit 3) before anything is built or swapped.
 */
async function openAll(ctx: Context, projections: Projection<unknown>[]): Promise<{ store: EventStore; targets: ReadonlyMap<string, Target> }> {
  const store = await ctx.openStore();
  const { targets, failures } = await ctx.openTargets(projections);
  const failed = [...failures.values()][0];
  if (failed) throw failed;
  return { store, targets };
}

/** Where a projection's copy lives: beside its target's tables, or the store's. */
function spaceOf(store: EventStore, targets: ReadonlyMap<string, Target>, name: string, slot: ShadowSlot): ShadowSpace {
  return targets.get(name)?.shadowSpace(name, slot) ?? store.shadowSpace(name, slot);
}

/** The copy's own lease, or exit 75 naming who builds it (with --wait, waited for). */
async function copyLeaseOf(
  store: EventStore,
  keeper: LeaseKeeper,
  slot: ShadowSlot,
  name: string,
  wait: { deadline: number; asked?: string; signal?: AbortSignal },
): Promise<Lease> {
  return acquireLease(store, keeper, copyLease(slot, name), wait).catch((error: unknown) => {
    if (isEsError(error) && error.code === 'LOCKED')
      throw new EsError('LOCKED', error.message.replace(`${copyLease(slot, name)} is being run`, `the ${slot} of ${name} is being built`));
    throw error;
  });
}

/** What promote and verify share: the projections named (each declaring its tables), the store and targets, a stop signal, a lease keeper. */
async function prepare(ctx: Context, names: string[], command: string, flags: WorkFlags) {
  if (names.length === 0) throw usage(`name the projections to ${command}`);
  const checked = checkFlags(flags);
  const projections = await ctx.select(names);
  shadowable(projections);
  const { store, targets } = await openAll(ctx, projections);
  return { projections, store, targets, out: ctx.out, signals: trapStopSignals(), keeper: new LeaseKeeper(store, checked.lock.leaseMs), checked };
}

/** The command's exit after every projection was reported: the worst failure, else the stop signal. */
function exitAfter(failures: readonly EsError[], received: NodeJS.Signals | undefined): void {
  // Any other failure (an append conflict) is not a success either.
  const worst = (['ENVIRONMENT', 'LOCKED', 'INTERRUPTED', 'FAULTED'] as const).find((code) => failures.some((f) => f.code === code)) ?? failures[0]?.code;
  if (worst) throw new EsError(worst, '', { details: { reported: true } });
  if (received) throw new EsError('INTERRUPTED', '', { details: { reported: true, signal: received } });
}

/**
 * After a builder's lease was taken over: whether it was a promote of its shadow. A promote takes the
 * builder's lease before it catches the shadow up and swaps it in, and holds it until then, so the
 * builder (which may see its lease lost at once, at its next commit) waits while another process
 * holds the shadow's lease, at most a lease's length, for the stream to say the shadow was promoted.
 */
async function promotedMeanwhile(store: EventStore, name: string, leaseMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + leaseMs;
  for (;;) {
    if ((await store.lastEvent(copyStream('shadow', name)))?.type === SHADOW_EVENTS.promoted) return true;
    const held = (await store.leases()).some((l) => l.name === copyLease('shadow', name) && l.live);
    if (!held || Date.now() >= deadline || signal.aborted) return false;
    await sleep(100, signal);
  }
}

/** `es project rebuild <names…>|--all --shadow [--follow]`. */
export async function rebuildShadows(ctx: Context, projections: Projection<unknown>[], flags: WorkFlags): Promise<void> {
  shadowable(projections);
  const checked = checkFlags(flags);
  const { store, targets } = await openAll(ctx, projections);
  const { out } = ctx;
  const signals = trapStopSignals();
  const keeper = new LeaseKeeper(store, checked.lock.leaseMs);
  const optionsFor = optionsFrom(ctx.settings, checked, { signal: signals.signal, onIncident: (incident) => logIncident(out, incident) });
  const build = async (projection: Projection<unknown>): Promise<Outcome> => {
    const { name } = projection;
    let lease: Lease;
    try {
      lease = await copyLeaseOf(store, keeper, 'shadow', name, { ...checked.lock, signal: signals.signal });
    } catch (error) {
      if (!isEsError(error) || (error.code !== 'LOCKED' && error.code !== 'INTERRUPTED')) throw error;
      return { result: idleResult(name, 0, 'behind', { shadow: true, interrupted: error.code === 'INTERRUPTED' }), failure: error };
    }
    const space = spaceOf(store, targets, name, 'shadow');
    const spinner = checked.follow ? null : await out.spinner(`${name} (shadow)`);
    const startedAt = performance.now();
    try {
      const { deadline: _d, asked: _a, leaseMs: _l, ...options } = optionsFor(projection);
      if (checked.follow) out.note(`building the shadow of ${name} and following the live projection; stop with Ctrl-C or SIGTERM`);
      const result = await buildCopy(store, projection, space, 'shadow', {
        ...options,
        leases: new Map([[name, lease]]),
        countTotal: spinner !== null,
        onProgress: (p) => {
          if (spinner) spinner.text = `${progressText(out, p, startedAt)} (shadow)`;
        },
      });
      if (result.state === 'locked' && (await promotedMeanwhile(store, name, checked.lock.leaseMs, signals.signal))) {
        // Its work is done: another process promoted the shadow this one was building.
        out.note(`${name}: the shadow was promoted by another process; nothing more to build`);
        return { result: { ...result, state: 'up-to-date', error: null, interrupted: false } };
      }
      // Another process took the shadow over (its lease ran out while this one was stopped): exit 75.
      if (result.state === 'locked') return { result, failure: new EsError('LOCKED', result.error?.message ?? `${name}: lost the lease of its shadow`) };
      return { result: checked.follow && result.interrupted ? { ...result, interrupted: false } : result };
    } finally {
      spinner?.stop();
      await lease.release();
      await space.close();
    }
  };
  const outcomes: Outcome[] = [];
  try {
    if (checked.follow) outcomes.push(...(await Promise.all(projections.map(build))));
    else for (const p of projections) if (!signals.signal.aborted) outcomes.push(await build(p));
  } finally {
    signals.release();
  }
  for (const outcome of outcomes) reportOutcome(out, outcome);
  printDocument(out, outcomes);
  exitFor(outcomes, signals.received(), checked.follow);
}

/** `es project promote <names…> [--max-lag <n>]`. */
export async function promote(ctx: Context, names: string[], flags: { maxLag?: string; batchSize?: string; lease?: string }): Promise<void> {
  const maxLag = flags.maxLag === undefined ? DEFAULT_PROMOTE_MAX_LAG : parseWholeNumber(flags.maxLag, '--max-lag');
  const { projections, store, targets, out, signals, keeper, checked } = await prepare(ctx, names, 'promote', {
    batchSize: flags.batchSize,
    lease: flags.lease,
  });
  const done: PromoteResult[] = [];
  const failures: EsError[] = [];
  try {
    for (const projection of projections) {
      if (signals.signal.aborted) break;
      const { name } = projection;
      const batchSize = checked.batchSize ?? ctx.settings.projectionOptions[name]?.batchSize ?? ctx.settings.batchSize;
      // The shadow's builder (rebuild --shadow --follow) is stopped first, then the live runner (a
      // worker is asked to let it go at its batch boundary: what it published is then before P).
      const builder = await takeOverLease(store, keeper, copyLease('shadow', name));
      const lease = await takeOverLease(store, keeper, name, HANDOVER_WAIT_MS);
      try {
        const target = targets.get(name);
        const space = spaceOf(store, targets, name, 'shadow');
        const result = await promoteShadow(store, projection, space, {
          lease,
          maxLag,
          batchSize,
          signal: signals.signal,
          ...(target ? { target } : {}),
        }).finally(() => space.close());
        done.push(result);
        const caught = result.caughtUp > 0 ? `, caught up ${plural(result.caughtUp, 'event')} first` : '';
        out.event(
          'info',
          `${name}: version ${result.version} promoted at position ${formatCount(result.position)}${caught} (${formatDuration(result.durationMs)})`,
          { ...result },
          out.color.green('✔'),
          'line',
        );
      } catch (error) {
        if (!isEsError(error) || error.code === 'USAGE') throw error;
        failures.push(error);
        out.report('error', error.message, { projection: name, code: error.code });
      } finally {
        await lease.release();
        await builder.release();
      }
    }
  } finally {
    signals.release();
  }
  if (out.json) out.data({ projections: done });
  exitAfter(failures, signals.received());
}

/** `es project drop-shadow <names…>`. */
export async function dropShadows(ctx: Context, names: string[], flags: { wait?: string }): Promise<void> {
  if (names.length === 0) throw usage('name the projections whose shadow to drop');
  const checked = checkFlags({ wait: flags.wait });
  const projections = await ctx.select(names);
  shadowable(projections);
  const { store, targets } = await openAll(ctx, projections);
  const keeper = new LeaseKeeper(store, checked.lock.leaseMs);
  const dropped: string[] = [];
  for (const projection of projections) {
    const { name } = projection;
    const lease = await copyLeaseOf(store, keeper, 'shadow', name, checked.lock);
    try {
      const space = spaceOf(store, targets, name, 'shadow');
      if (await dropShadow(store, projection, space, lease.fence).finally(() => space.close())) dropped.push(name);
    } finally {
      await lease.release();
    }
    ctx.out.event(
      'info',
      dropped.includes(name) ? `${name}: shadow dropped` : `${name}: had no shadow`,
      { projection: name, dropped: dropped.includes(name) },
      '',
      'line',
    );
  }
  if (ctx.out.json) ctx.out.data({ projections: projections.map((p) => ({ name: p.name, dropped: dropped.includes(p.name) })) });
}

/** `es project verify <names…> [--keep]`. */
export async function verify(ctx: Context, names: string[], flags: { keep?: boolean; batchSize?: string; wait?: string; lease?: string }): Promise<void> {
  const { projections, store, targets, out, signals, keeper, checked } = await prepare(ctx, names, 'verify', flags);
  const results: VerifyResult[] = [];
  const failures: EsError[] = [];
  try {
    for (const projection of projections) {
      if (signals.signal.aborted) break;
      const { name } = projection;
      const batchSize = checked.batchSize ?? ctx.settings.projectionOptions[name]?.batchSize ?? ctx.settings.batchSize;
      let lease: Lease;
      try {
        lease = await copyLeaseOf(store, keeper, 'verify', name, { ...checked.lock, signal: signals.signal });
      } catch (error) {
        if (!isEsError(error) || error.code === 'USAGE') throw error;
        failures.push(error);
        out.report('error', error.message, { projection: name, code: error.code });
        continue;
      }
      const space = spaceOf(store, targets, name, 'verify');
      const shadow = spaceOf(store, targets, name, 'shadow');
      try {
        const result = await verifyProjection(store, projection, space, {
          lease,
          keeper,
          keep: flags.keep === true,
          shadow,
          batchSize,
          signal: signals.signal,
        });
        results.push(result);
        showVerify(ctx, result);
      } catch (error) {
        if (!isEsError(error) || error.code === 'USAGE') throw error;
        failures.push(error);
        out.report('error', error.message, { projection: name, code: error.code });
      } finally {
        await lease.release();
        await space.close();
        await shadow.close();
      }
    }
  } finally {
    signals.release();
  }
  if (out.json) {
    out.data({
      projections: results.map(({ name, position, identical, tables, pausedMs, durationMs, kept }) => ({
        name,
        position,
        identical,
        tables,
        pausedMs,
        durationMs,
        kept,
      })),
    });
  }
  exitAfter(failures, signals.received());
  if (results.some((r) => !r.identical)) throw new EsError('UNHEALTHY', '', { details: { reported: true } });
}

const cell = (value: unknown): string => printable(typeof value === 'string' ? value : JSON.stringify(value));

function showVerify(ctx: Context, result: VerifyResult): void {
  const { out } = ctx;
  if (out.json) return;
  const { name, position, identical, tables, pausedMs, durationMs } = result;
  const when = `at position ${formatCount(position)} (${formatDuration(durationMs)}, live runner paused ${formatDuration(pausedMs)})`;
  if (identical) out.line(`${out.color.green('✔')} ${out.color.bold(name)}  identical ${when}: ${tables.map((t) => t.name).join(', ')}`);
  else out.line(`${out.color.red('✖')} ${out.color.bold(name)}  differs ${when}`);
  for (const t of tables) {
    if (t.onlyLive + t.onlyRebuilt + t.different === 0 && !t.note) continue;
    out.line(
      `  ${t.name}: ${formatCount(t.onlyLive)} only in the live table, ${formatCount(t.onlyRebuilt)} only in the rebuilt one, ${formatCount(t.different)} different`,
    );
    if (t.note) out.line(`    ${t.note}`);
    for (const e of t.examples) {
      const label = e.kind === 'onlyLive' ? 'only live' : e.kind === 'onlyRebuilt' ? 'only rebuilt' : 'different';
      const body = e.kind === 'different' ? `live ${cell(e.live)}  rebuilt ${cell(e.rebuilt)}` : cell(e.live ?? e.rebuilt);
      out.line(`    ${label} ${cell(e.key)}: ${body}`);
    }
  }
  if (result.kept) out.line(`  kept as the shadow of ${name}: es project promote ${name} swaps it in`);
}
