import type { StoredEvent } from '../core/events.js';
import { errorMessage, isEsError } from '../core/errors.js';
import type { PublishConfig } from '../core/publish.js';
import { redact } from '../core/secrets.js';
import { sleep } from '../core/sleep.js';
import type { Publisher as PublisherPort } from '../ports/publisher.js';
import { EventFault, UnclearFault, type Connect, type Link } from './link.js';
import { sendAll } from './pipeline.js';

/** Messages in flight at once, over all streams (one per stream at most). */
export const WINDOW = 512;
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5_000;
/** While the broker stays down, say so again after this many attempts (about a minute at the max backoff). */
const REPEAT_EVERY = 12;

export interface PublishOutcome {
  /** events[0, acked) are acknowledged by the broker. */
  acked: number;
  /** The event at `acked` cannot be published: a fault of that event. Null when all went, or on a stop. */
  fault: { index: number; error: Error } | null;
}

export interface PublisherHooks {
  /** The broker cannot be reached (or went away); the publisher retries after `retryInMs`. */
  onDown?(message: string, retryInMs: number): void;
  /** The broker acknowledged again after being down. */
  onBack?(): void;
}

/**
 * Publishes batches of events to one broker and waits for their acknowledgements. A broker that is
 * down or goes away is retried with backoff for as long as it takes (or until the signal stops it);
 * a message the broker refuses is reported as the fault of its event.
 */
export class Publisher implements PublisherPort {
  private link: Link | null = null;

  constructor(
    readonly config: PublishConfig,
    private readonly connect: Connect,
    private readonly hooks: PublisherHooks = {},
  ) {}

  async publish(events: readonly StoredEvent[], signal?: AbortSignal): Promise<PublishOutcome> {
    let offset = 0;
    let failures = 0;
    // After a refusal that names no message: one at a time, so the next refusal names its event.
    let oneByOne = false;
    while (offset < events.length) {
      if (signal?.aborted) return { acked: offset, fault: null };
      let link: Link;
      try {
        link = await this.open();
      } catch (error) {
        if (isEsError(error)) throw error;
        await this.backoff(error, ++failures, signal);
        continue;
      }
      const sent = await sendAll(link, offset === 0 ? events : events.slice(offset), oneByOne ? 1 : WINDOW);
      offset += sent.acked;
      if (sent.acked > 0 && failures > 0) {
        failures = 0;
        this.hooks.onBack?.();
      }
      if (sent.error === null) continue;
      if (sent.error instanceof EventFault) {
        if (sent.own) return { acked: offset, fault: { index: offset, error: sent.error } };
        // Another event's fault stopped this one before it was sent: go on up to that event.
        continue;
      }
      if (sent.error instanceof UnclearFault) {
        await this.drop();
        if (oneByOne && sent.own) return { acked: offset, fault: { index: offset, error: new EventFault(sent.error.message) } };
        oneByOne = true;
        continue;
      }
      await this.drop();
      await this.backoff(sent.error, ++failures, signal);
    }
    return { acked: offset, fault: null };
  }

  async close(): Promise<void> {
    await this.drop();
  }

  private async open(): Promise<Link> {
    if (this.link?.usable) return this.link;
    await this.drop();
    this.link = await this.connect();
    return this.link;
  }

  private async drop(): Promise<void> {
    const link = this.link;
    this.link = null;
    await link?.close();
  }

  private async backoff(error: unknown, failures: number, signal?: AbortSignal): Promise<void> {
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (failures - 1));
    if (failures === 1 || failures % REPEAT_EVERY === 0) {
      this.hooks.onDown?.(`${this.config.display}: ${redact(errorMessage(error) || String(error))}`, delay);
    }
    await sleep(delay, signal);
  }
}

/** A publisher for a projection's `publish`; the broker's client library loads on the first connect. */
export function createPublisher(config: PublishConfig, hooks: PublisherHooks = {}): Publisher {
  const connect: Connect =
    config.kind === 'nats'
      ? async () => (await import('./nats/link.js')).connectNats(config)
      : async () => (await import('./amqp/link.js')).connectAmqp(config);
  return new Publisher(config, connect, hooks);
}
