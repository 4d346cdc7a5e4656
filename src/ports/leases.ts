/** A lease as its holder took it: the token grows at every acquisition of the projection's lock. */
export interface Fence {
  name: string;
  ownerId: string;
  token: number;
  /**
   * The lease's length: a store may end a fenced transaction that sits idle this long (its holder
   * paused or cut off), so that it holds nothing the next holder needs for longer than the lease.
   */
  leaseMs?: number;
}

/** tryLease's answer: the lease and its fencing token, or the live holder that kept it. */
export type LeaseAttempt = { taken: true; token: number } | { taken: false; holder: LockOwner };

/** A lock row as status and workers see it. */
export interface LeaseRow {
  name: string;
  owner: LockOwner;
  token: number;
  /** When the lease runs out (ISO-8601, by the store's clock). */
  expiresAt: string;
  /** The lease has not run out yet (by the store's clock). */
  live: boolean;
}

/** Who holds a projection's lock: shown to a second runner that is refused. */
export interface LockOwner {
  id: string;
  pid: number;
  host: string;
  since: string;
  /** The holder's PID namespace and boot id: its pid is only checked where both match ours. */
  pidNamespace?: string | null;
  bootId?: string | null;
}

/** Projection leases with fencing tokens, kept in the store so that every process sees them. */
export interface LeaseStore {
  /**
   * Takes the named lease unless a live holder has it. A holder whose lease (ttlMs since its last
   * renewal) ran out, or that `isDead` says has died, is replaced; the token grows at every take.
   */
  tryLease(name: string, owner: LockOwner, ttlMs: number, isDead: (holder: LockOwner) => boolean): Promise<LeaseAttempt>;
  /** Extends the lease; false when it is no longer this owner's (or, with `token`, this lease's). */
  renewLock(name: string, ownerId: string, ttlMs: number, token?: number): Promise<boolean>;
  /** Lets the lease go (the row stays, so the next token is still larger). */
  releaseLock(name: string, ownerId: string, token?: number): Promise<void>;
  /** Every lease row (expired ones too, marked `live: false`). */
  leases(): Promise<LeaseRow[]>;
}
