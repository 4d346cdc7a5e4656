import type { Database } from 'better-sqlite3';
import { handledIds } from '../drivers/handled/index.js';

/** What a consumer needs of a message es published: its body's `id` and `position` (or the Es-Position header). */
export interface DeliveredEvent {
  id: string;
  position: number;
}

/**
 * Creates the handled-id table (`es_handled`) in the consumer's database when it is missing. Call it
 * once at start-up, outside any transaction (on MariaDB, DDL commits the open transaction).
 */
export function ensureHandledTable(db: Database): void;
export function ensureHandledTable(db: unknown): Promise<void>;
export function ensureHandledTable(db: unknown): void | Promise<void> {
  return handledIds(db).ensure();
}

/**
 * Records a delivered message's id under the consumer's name, in the consumer's own open
 * transaction, and says whether it is new: true, apply it (its writes commit with the record);
 * false, a redelivery already applied (skip it). es publishes at least once, so a message may come
 * twice; this turns that into exactly-once effects. Synchronous on better-sqlite3; a promise on a
 * node-postgres client or a mysql2 promise connection (inside BEGIN … COMMIT on that same client).
 */
export function recordMessage(db: Database, consumer: string, event: DeliveredEvent): boolean;
export function recordMessage(db: unknown, consumer: string, event: DeliveredEvent): Promise<boolean>;
export function recordMessage(db: unknown, consumer: string, event: DeliveredEvent): boolean | Promise<boolean> {
  const added = handledIds(db).record(consumer, [{ id: event.id, position: event.position }]);
  return typeof added === 'number' ? added === 1 : added.then((n) => n === 1);
}
