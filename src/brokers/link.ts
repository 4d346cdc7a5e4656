import type { StoredEvent } from '../core/events.js';

/**
 * The event itself cannot be published (no JetStream stream captures its subject, RabbitMQ returned
 * it as unroutable, it is too large): a fault of that event, like a throwing handler.
 */
export class EventFault extends Error {
  override name = 'EventFault';
}

/**
 * The broker refused one of the messages in flight without saying which (RabbitMQ closes the
 * channel). The publisher then sends one message at a time: the one refused alone is the culprit.
 */
export class UnclearFault extends Error {
  override name = 'UnclearFault';
}

/** One connection to a broker. Any other rejection of `send` means the broker is down or went away. */
export interface Link {
  /** Resolves when the broker has acknowledged the message (stored it). */
  send(event: StoredEvent): Promise<void>;
  /** False once the connection is lost or a channel closed: a new link is needed. */
  readonly usable: boolean;
  close(): Promise<void>;
}

/** Connects to a broker. Rejects with an EsError (code ENVIRONMENT) when retrying cannot help. */
export type Connect = () => Promise<Link>;

/** Headers every message carries, under the same names on both brokers. */
export function eventHeaders(event: StoredEvent): Record<string, string> {
  return {
    'Es-Position': String(event.position),
    'Es-Stream': event.streamId,
    'Es-Version': String(event.version),
    'Es-Type': event.type,
  };
}

/** The message body: the event as `es read --json` prints it. */
export function eventBody(event: StoredEvent): Buffer {
  return Buffer.from(JSON.stringify(event));
}

/** A subject or routing key as a fault message shows it: a long one cut short. */
export function shorten(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

/** How long a sent message may wait for its acknowledgement before the link counts as lost. */
export const ACK_TIMEOUT_MS = 10_000;
/** A broker that does not answer a connection attempt within this is down for now. */
export const BROKER_CONNECT_TIMEOUT_MS = 5_000;
