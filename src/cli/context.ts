import { type EsError, environment, errorMessage, usage } from '../core/errors.js';
import type { Target } from '../ports/target.js';
import type { Publisher } from '../ports/publisher.js';
import type { Incident } from '../engine/types.js';
import type { Projection } from '../core/projection.js';
import { loadProjections } from '../loading/load-projections.js';
import type { EventStore } from '../ports/event-store.js';
import { openStore } from '../drivers/open-store.js';
import { Output, type LogFormat } from './output.js';
import { checkProjectionOptions, resolveSettings, type GlobalFlags, type Settings } from './settings.js';

export interface CommandFlags extends GlobalFlags {
  json?: boolean;
  logFormat?: LogFormat;
}

/** What every command gets: its settings, its output, and helpers to open what it needs. */
export class Context {
  readonly settings: Settings;
  readonly out: Output;
  private store: EventStore<unknown> | undefined;
  private readonly targets = new Map<string, Promise<Target>>();
  private readonly publishers: Publisher[] = [];

  private constructor(
    readonly flags: CommandFlags,
    out: Output,
  ) {
    this.out = out;
    this.settings = resolveSettings(flags);
  }

  static async create(flags: CommandFlags): Promise<Context> {
    const out = await Output.create({ json: flags.json, logFormat: flags.logFormat, quiet: flags.quiet, verbose: flags.verbose });
    return new Context(flags, out);
  }

  async openStore(create = false): Promise<EventStore<unknown>> {
    this.store ??= await openStore(this.settings.db, { create });
    return this.store;
  }

  async projections(): Promise<Projection<unknown>[]> {
    const projections = await loadProjections(this.settings.projections);
    checkProjectionOptions(
      this.settings,
      projections.map((p) => p.name),
    );
    return projections;
  }

  /** The named projections, in the order given; all of them when none are named. */
  async select(names: readonly string[]): Promise<Projection<unknown>[]> {
    const all = await this.projections();
    if (names.length === 0) return all;
    const byName = new Map(all.map((p) => [p.name, p]));
    const unknown = names.filter((name) => !byName.has(name));
    if (unknown.length > 0) {
      const known = all.map((p) => p.name).join(', ') || 'none';
      throw usage(`unknown projection: ${unknown.join(', ')} (known: ${known})`);
    }
    return [...new Set(names)].map((name) => byName.get(name) as Projection<unknown>);
  }

  /** Where a projection's read model lives: `projectionOptions.<name>.target` wins over its file's `target`. */
  targetOf(projection: Projection<unknown>): string | null {
    return this.settings.projectionOptions[projection.name]?.target ?? projection.target;
  }

  /**
   * Opens the targets of those projections that have one (each URL once). A target that cannot be
   * opened or reached is that projection's ENVIRONMENT error, naming it; the others are unaffected.
   */
  async openTargets(projections: readonly Projection<unknown>[]): Promise<{ targets: Map<string, Target>; failures: Map<string, EsError> }> {
    const targets = new Map<string, Target>();
    const failures = new Map<string, EsError>();
    for (const projection of projections) {
      const url = this.targetOf(projection);
      if (url === null) continue;
      let opening = this.targets.get(url);
      if (!opening) {
        opening = import('../drivers/open-target.js').then(({ openTarget }) => openTarget(url));
        opening.catch(() => {});
        this.targets.set(url, opening);
      }
      try {
        targets.set(projection.name, await opening);
      } catch (error) {
        failures.set(projection.name, environment(`${projection.name}: target ${errorMessage(error)}`, error));
      }
    }
    return { targets, failures };
  }

  /**
   * A publisher for each projection that publishes (its broker's client loads at the first batch).
   * A broker that is down or back again is told as an incident of that projection.
   */
  async openPublishers(projections: readonly Projection<unknown>[], onIncident: (incident: Incident) => void): Promise<Map<string, Publisher>> {
    const publishers = new Map<string, Publisher>();
    const publishing = projections.filter((p) => p.publish);
    if (publishing.length === 0) return publishers;
    const { createPublisher } = await import('../brokers/publisher.js');
    for (const { name, publish } of publishing) {
      const publisher = createPublisher(publish!, {
        onDown: (message, retryInMs) => onIncident({ kind: 'broker-down', name, message, retryInMs }),
        onBack: () => onIncident({ kind: 'broker-back', name }),
      });
      this.publishers.push(publisher);
      publishers.set(name, publisher);
    }
    return publishers;
  }

  async close(): Promise<void> {
    for (const publisher of this.publishers.splice(0)) await publisher.close().catch(() => {});
    for (const opening of this.targets.values()) await opening.then((t) => t.close()).catch(() => {});
    this.targets.clear();
    await this.store?.close();
    this.store = undefined;
  }
}
