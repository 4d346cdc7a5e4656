/** A `run --follow` process that shares a store's projections with others; live while it beats. */
export interface WorkerRow {
  id: string;
  pid: number;
  host: string;
  since: string;
  expiresAt: string;
}

/** The `run --follow` processes sharing a store, each live while its heartbeat has not run out. */
export interface WorkerRegistry {
  /** Registers or refreshes a worker: live for `ttlMs` from now. */
  heartbeat(worker: Omit<WorkerRow, 'expiresAt'>, ttlMs: number): Promise<void>;
  liveWorkers(): Promise<WorkerRow[]>;
  /** Unregisters a worker (it stops). */
  leaveWorker(id: string): Promise<void>;
}
