/**
 * The Publisher contract: what a publishing projection may count on. First the Publisher class
 * against a broker scripted in-process (connections refused, links lost, refusals that name their
 * message or not, a stop signal), then the same observable behaviour against each real broker (see
 * brokerKinds): a batch acknowledged whole, its messages in order with es's headers, and an event
 * the broker cannot take as the fault of that event.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Publisher, createPublisher } from '../../src/brokers/publisher.js';
import { EventFault, UnclearFault, type Connect, type Link } from '../../src/brokers/link.js';
import { EsError } from '../../src/core/errors.js';
import type { StoredEvent } from '../../src/core/events.js';
import { parsePublish, type PublishConfig } from '../../src/core/publish.js';
import { brokerKinds, describeEach, type BrokerRig } from '../support/backends.js';
import { checkStreamOrder } from '../support/brokers.js';

/** Event `position` of `streamId` (its version per stream given by the caller). */
const event = (position: number, streamId: string, version = 1, type = 'Opened'): StoredEvent => ({
  position,
  id: `e${position}`,
  streamId,
  version,
  type,
  data: { n: position },
  metadata: {},
  recordedAt: '2026-01-01T00:00:00.000Z',
});

/** Five events, each of a stream of its own. */
const five = () => [1, 2, 3, 4, 5].map((p) => event(p, `s${p}`));

/** What a scripted broker does with one message: acknowledge it, or fail it. */
type Outcome =
  | 'ack'
  | {
      fail: Error;
      /** `send`: refused as it is sent; `later`: after the messages sent before it were acknowledged. */
      when: 'send' | 'later';
      /** The connection (or channel) goes with it: every message not acknowledged yet fails the same way. */
      closes?: boolean;
    };

/**
 * A broker in this process whose every answer the test scripts: which connection attempts fail, and
 * how each message sent on each connection ends. Acknowledgements come on a later turn of the event
 * loop, as a real broker's do, so several messages are in flight at once.
 */
function scriptedBroker(script: { connect?: (attempt: number) => Error | null; send?: (event: StoredEvent, connection: number) => Outcome } = {}) {
  const acked: StoredEvent[] = [];
  /** Per connection: the positions sent on it, and the most in flight at once. */
  const connections: { sent: number[]; maxInFlight: number; closed: boolean }[] = [];
  let attempts = 0;
  const connect: Connect = async () => {
    attempts += 1;
    const refusal = script.connect?.(attempts);
    if (refusal) throw refusal;
    const index = connections.length;
    const state = { sent: [] as number[], maxInFlight: 0, closed: false };
    connections.push(state);
    const pending = new Map<StoredEvent, (error: Error) => void>();
    let usable = true;
    const close = (error: Error): void => {
      usable = false;
      for (const fail of [...pending.values()]) fail(error);
    };
    const link: Link = {
      get usable() {
        return usable;
      },
      send(e) {
        state.sent.push(e.position);
        if (!usable) return Promise.reject(new Error('the link is closed'));
        const outcome = script.send?.(e, index) ?? 'ack';
        return new Promise<void>((resolve, reject) => {
          const fail = (error: Error): void => {
            pending.delete(e);
            reject(error);
          };
          pending.set(e, fail);
          state.maxInFlight = Math.max(state.maxInFlight, pending.size);
          if (outcome !== 'ack' && outcome.when === 'send') {
            fail(outcome.fail);
            if (outcome.closes) close(outcome.fail);
            return;
          }
          setImmediate(() => {
            if (!pending.has(e)) return;
            if (outcome === 'ack') {
              pending.delete(e);
              acked.push(e);
              resolve();
              return;
            }
            fail(outcome.fail);
            if (outcome.closes) close(outcome.fail);
          });
        });
      },
      close: async () => {
        state.closed = true;
        close(new Error('closed by es'));
      },
    };
    return link;
  };
  return { connect, acked, connections, attempts: () => attempts };
}

const CONFIG: PublishConfig = { kind: 'nats', to: 'nats://scripted:4222', display: 'nats://scripted:4222', subject: 'events.{type}' };

describe('Publisher against a scripted broker', () => {
  it('acknowledges a batch whole, pipelined, on one connection', async () => {
    const broker = scriptedBroker();
    const publisher = new Publisher(CONFIG, broker.connect);
    const events = [event(1, 'a', 1), event(2, 'b', 1), event(3, 'a', 2), event(4, 'c', 1)];
    expect(await publisher.publish(events)).toEqual({ acked: 4, fault: null });
    expect(broker.acked.map((e) => e.position).sort()).toEqual([1, 2, 3, 4]);
    expect(broker.connections).toHaveLength(1);
    expect(broker.connections[0]!.maxInFlight).toBeGreaterThan(1);
    expect(await publisher.publish([])).toEqual({ acked: 0, fault: null });
    await publisher.close();
    expect(broker.connections[0]!.closed).toBe(true);
  });

  it('backs off while the broker cannot be reached: onDown once, then onBack once it acknowledges again', async () => {
    const broker = scriptedBroker({ connect: (attempt) => (attempt <= 2 ? new Error('connect ECONNREFUSED 127.0.0.1:4222') : null) });
    const hooks: string[] = [];
    const publisher = new Publisher(CONFIG, broker.connect, {
      onDown: (message, retryInMs) => hooks.push(`down ${retryInMs}: ${message}`),
      onBack: () => hooks.push('back'),
    });
    const started = performance.now();
    expect(await publisher.publish(five())).toEqual({ acked: 5, fault: null });
    // Two refusals: waits of 100 and 200 ms before the third attempt.
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(broker.attempts()).toBe(3);
    expect(hooks).toEqual(['down 100: nats://scripted:4222: connect ECONNREFUSED 127.0.0.1:4222', 'back']);
    await publisher.close();
  });

  it('a link lost mid-batch: connects again and sends from the first event not acknowledged, each stream in order', async () => {
    const events = [event(1, 'a', 1), event(2, 'b', 1), event(3, 'a', 2), event(4, 'b', 2), event(5, 'a', 3)];
    const lost = new Error('read ECONNRESET');
    const broker = scriptedBroker({ send: (e, connection) => (connection === 0 && e.position === 3 ? { fail: lost, when: 'later', closes: true } : 'ack') });
    const hooks: string[] = [];
    const publisher = new Publisher(CONFIG, broker.connect, { onDown: () => hooks.push('down'), onBack: () => hooks.push('back') });
    expect(await publisher.publish(events)).toEqual({ acked: 5, fault: null });
    expect(broker.connections).toHaveLength(2);
    expect(broker.connections[1]!.sent[0]).toBe(3);
    expect(hooks).toEqual(['down', 'back']);
    // What the broker holds of each stream is in version order, each event at least once.
    for (const stream of ['a', 'b']) {
      const versions = broker.acked.filter((e) => e.streamId === stream).map((e) => e.version);
      expect(versions, stream).toEqual([...versions].sort((x, y) => x - y));
    }
    expect(new Set(broker.acked.map((e) => e.position))).toEqual(new Set([1, 2, 3, 4, 5]));
    await publisher.close();
  });

  it('stopped by its signal while the broker is away: says how many were acknowledged, no fault', async () => {
    const lost = new Error('read ECONNRESET');
    const broker = scriptedBroker({
      connect: (attempt) => (attempt > 1 ? new Error('connect ECONNREFUSED') : null),
      send: (e) => (e.position === 4 ? { fail: lost, when: 'later', closes: true } : 'ack'),
    });
    const stop = new AbortController();
    const publisher = new Publisher(CONFIG, broker.connect, { onDown: () => stop.abort() });
    expect(await publisher.publish(five(), stop.signal)).toEqual({ acked: 3, fault: null });
    // Stopped before anything: nothing acknowledged, nothing sent.
    const idle = scriptedBroker();
    expect(await new Publisher(CONFIG, idle.connect).publish(five(), stop.signal)).toEqual({ acked: 0, fault: null });
    expect(idle.attempts()).toBe(0);
  });

  it('an event the broker refuses (EventFault) is the fault at its index; the events before it are acknowledged', async () => {
    const refused = new EventFault('no JetStream stream captures subject "events.Opened"');
    const broker = scriptedBroker({ send: (e) => (e.position === 3 ? { fail: refused, when: 'later' } : 'ack') });
    const publisher = new Publisher(CONFIG, broker.connect);
    expect(await publisher.publish(five())).toEqual({ acked: 2, fault: { index: 2, error: refused } });
    // A refused message leaves the link usable.
    expect(broker.connections).toHaveLength(1);
    await publisher.close();
  });

  it("a later event's refusal first sends the events before it that waited for their stream", async () => {
    // e2 waits for e1 (same stream); e3 is refused meanwhile, before e2 was ever sent.
    const events = [event(1, 'a', 1), event(2, 'a', 2), event(3, 'b', 1)];
    const refused = new EventFault('unroutable');
    const broker = scriptedBroker({ send: (e) => (e.position === 3 ? { fail: refused, when: 'send' } : 'ack') });
    const publisher = new Publisher(CONFIG, broker.connect);
    expect(await publisher.publish(events)).toEqual({ acked: 2, fault: { index: 2, error: refused } });
    expect(broker.acked.map((e) => e.position)).toEqual([1, 2]);
    await publisher.close();
  });

  it('after a refusal that names no message (UnclearFault), sends one at a time, so the next refusal names its event', async () => {
    // The broker closes the channel for e4, failing every message in flight with it (as RabbitMQ does).
    const unclear = new UnclearFault('RabbitMQ refused the message: NOT_FOUND - no exchange');
    const broker = scriptedBroker({ send: (e) => (e.position === 4 ? { fail: unclear, when: 'send', closes: true } : 'ack') });
    const hooks: string[] = [];
    const publisher = new Publisher(CONFIG, broker.connect, { onDown: () => hooks.push('down') });
    const sent = await publisher.publish(five());
    expect(sent).toMatchObject({ acked: 3, fault: { index: 3 } });
    expect(sent.fault?.error).toBeInstanceOf(EventFault);
    expect(sent.fault?.error.message).toBe(unclear.message);
    // The first connection had them all out at once; the second sent them one by one up to the refused one.
    expect(broker.connections.map((c) => c.sent)).toEqual([
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4],
    ]);
    expect(broker.connections[0]!.maxInFlight).toBeGreaterThan(1);
    expect(broker.connections[1]!.maxInFlight).toBe(1);
    // Not the broker being down: no backoff, no onDown.
    expect(hooks).toEqual([]);
    await publisher.close();
  });

  it('a broker that says retrying cannot help (an EsError from connect) is thrown at once', async () => {
    const refusal = new EsError('ENVIRONMENT', 'nats://scripted:4222: authorization violation');
    const broker = scriptedBroker({ connect: () => refusal });
    await expect(new Publisher(CONFIG, broker.connect).publish(five())).rejects.toBe(refusal);
    expect(broker.attempts()).toBe(1);
  });
});

describeEach(brokerKinds())('Publisher against %s', (kind) => {
  const rigs: BrokerRig[] = [];
  const publishers: Publisher[] = [];
  afterEach(async () => {
    for (const publisher of publishers.splice(0)) await publisher.close().catch(() => {});
    for (const rig of rigs.splice(0)) await rig.drop();
  });

  async function publisherTo(onlyType?: string): Promise<{ rig: BrokerRig; publisher: Publisher }> {
    const rig = await kind.rig(onlyType);
    rigs.push(rig);
    const config = parsePublish(rig.publish());
    if (typeof config === 'string') throw new Error(config);
    const publisher = createPublisher(config);
    publishers.push(publisher);
    return { rig, publisher };
  }

  /** `count` events over `streams` streams taking turns, their versions counted per stream. */
  function log(count: number, streams: number, typeOf = (i: number) => (i % 3 === 0 ? 'Opened' : 'Moved')): StoredEvent[] {
    const versions = new Map<string, number>();
    return Array.from({ length: count }, (_, i) => {
      const streamId = `acct-${i % streams}`;
      const version = (versions.get(streamId) ?? 0) + 1;
      versions.set(streamId, version);
      return event(i + 1, streamId, version, typeOf(i));
    });
  }

  it("publishes a batch: all acknowledged, the messages in order, the event as body, its id as message id, es's headers", async () => {
    const { rig, publisher } = await publisherTo();
    const events = log(30, 4);
    expect(await publisher.publish(events)).toEqual({ acked: 30, fault: null });
    const got = await rig.messages();
    expect(got.map((m) => m.body)).toEqual(JSON.parse(JSON.stringify(events)));
    expect(got.map((m) => m.id)).toEqual(events.map((e) => e.id));
    expect(checkStreamOrder(got).problems).toEqual([]);
    for (const [i, m] of got.entries()) {
      const e = events[i]!;
      expect(m.headers).toMatchObject({ 'Es-Position': String(e.position), 'Es-Stream': e.streamId, 'Es-Version': String(e.version), 'Es-Type': e.type });
      expect(m.subject).toContain(e.type);
    }
    // A second batch on the same publisher goes after it.
    expect(await publisher.publish(log(33, 4).slice(30))).toEqual({ acked: 3, fault: null });
    expect((await rig.messages()).map((m) => m.id).slice(-3)).toEqual(['e31', 'e32', 'e33']);
  });

  it('an event the broker cannot route is the fault at its index; the events before it are acknowledged', async () => {
    const { rig, publisher } = await publisherTo('Opened');
    const events = log(6, 6, (i) => (i === 3 ? 'Moved' : 'Opened'));
    const sent = await publisher.publish(events);
    expect(sent).toMatchObject({ acked: 3, fault: { index: 3 } });
    expect(sent.fault?.error).toBeInstanceOf(EventFault);
    const got = (await rig.messages()).map((m) => m.id);
    expect(got.slice(0, 3)).toEqual(['e1', 'e2', 'e3']);
    expect(got).not.toContain('e4');
  });
});
