import type { StoredEvent } from '../core/events.js';

/** What a broker acknowledged of a batch, in order; a refused event is the fault of that event. */
export interface Published {
  /** Events acknowledged from the first: fewer than given only when stopped by the signal or a fault. */
  acked: number;
  /** The broker refused this event (or it can never be sent): handled like a throwing handler. */
  fault?: { index: number; error: unknown } | null;
}

/**
 * Where a publishing projection sends its events (NATS, RabbitMQ), opened by the CLI as targets are.
 * A broker that is down is retried inside `publish` until it comes back or `signal` stops it; the
 * checkpoint then follows only what was acknowledged.
 */
export interface Publisher {
  publish(events: readonly StoredEvent[], signal?: AbortSignal): Promise<Published>;
  close(): Promise<void>;
}
