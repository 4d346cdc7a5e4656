import type { EventLog } from './event-log.js';
import type { LeaseStore } from './leases.js';
import type { ProjectionStore } from './projection-store.js';
import type { ShadowSlot, ShadowSpace } from './shadow.js';
import type { WorkerRegistry } from './workers.js';

export type * from './event-log.js';
export type * from './projection-store.js';
export type * from './leases.js';
export type * from './workers.js';
export type * from './shadow.js';

/** What a store driver supplies: the log, projection storage, leases and the worker registry. */
export interface EventStore<Db = unknown> extends EventLog, ProjectionStore<Db>, LeaseStore, WorkerRegistry {
  isTransient(error: unknown): boolean;
  lastEvent: EventLog['lastEvent'];
  head: EventLog['head'];
  /** Where a copy of a projection's read model is built beside the live one, when the read model is the store's own. */
  shadowSpace(name: string, slot: ShadowSlot): ShadowSpace<Db>;
}
