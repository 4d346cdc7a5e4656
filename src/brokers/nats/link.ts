import type { NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import type * as Jetstream from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type * as NatsTransport from '@nats-io/transport-node';
import type { StoredEvent } from '../../core/events.js';
import { environment, errorMessage } from '../../core/errors.js';
import { renderTemplate, type PublishConfig } from '../../core/publish.js';
import { redact } from '../../core/secrets.js';
import { loadDriver } from '../../drivers/require-driver.js';
import { ACK_TIMEOUT_MS, BROKER_CONNECT_TIMEOUT_MS, EventFault, eventBody, eventHeaders, shorten, type Link } from '../link.js';

type NatsConfig = Extract<PublishConfig, { kind: 'nats' }>;

/** JetStream's "message too large" API error. */
const MESSAGE_TOO_LARGE = 10054;
/**
 * The server drops the connection, with every message in flight, on a protocol line longer than its
 * max_control_line (4096 bytes unless configured, and not announced in INFO). The line is
 * `HPUB <subject> <reply inbox> <sizes>`; this leaves the rest 256 bytes.
 */
export const MAX_SUBJECT_BYTES = 3840;

/** The URL's host, port and credentials, as the client takes them. */
function connectOptions(config: NatsConfig) {
  const url = new URL(config.to);
  const server = `${url.hostname.replace(/^\[|\]$/g, '')}:${url.port || '4222'}`;
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  // nats://token@host: a user without a password is a token, as the nats CLI reads it.
  const auth = user && pass ? { user, pass } : user ? { token: user } : {};
  return { servers: server, ...auth, reconnect: false, timeout: BROKER_CONNECT_TIMEOUT_MS, name: 'es' };
}

const isAuthError = (error: unknown): boolean =>
  /authori[sz]ation|authentication|permissions violation/i.test(`${(error as Error)?.name} ${errorMessage(error)}`);

class NatsLink implements Link {
  private closed = false;
  /** Subjects known to have a stream (the check after a 503 is asked once per subject). */
  constructor(
    private readonly config: NatsConfig,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly headers: typeof natsHeaders,
  ) {
    void nc.closed().then(() => {
      this.closed = true;
    });
  }

  get usable(): boolean {
    return !this.closed && !this.nc.isClosed();
  }

  async send(event: StoredEvent): Promise<void> {
    const subject = renderTemplate(this.config.subject, event);
    // Refused here, before it is sent: the server would close the connection, an outage retried for ever.
    const subjectBytes = Buffer.byteLength(subject);
    if (subjectBytes > MAX_SUBJECT_BYTES) {
      throw new EventFault(`the subject "${shorten(subject)}" is ${subjectBytes} bytes, more than the ${MAX_SUBJECT_BYTES} a NATS subject may have`);
    }
    const body = eventBody(event);
    const max = this.nc.info?.max_payload;
    if (max !== undefined && body.length > max) {
      throw new EventFault(`the message is ${body.length} bytes, more than the server's max_payload (${max})`);
    }
    try {
      // In the try: the client refuses a header it cannot write, a fault of this event.
      const headers = this.headers();
      for (const [name, value] of Object.entries(eventHeaders(event))) headers.set(name, value);
      await this.js.publish(subject, body, { msgID: event.id, headers, timeout: ACK_TIMEOUT_MS });
    } catch (error) {
      throw await this.explain(subject, error);
    }
  }

  /** Turns a refusal of the message into an EventFault; leaves the broker's own trouble as it is. */
  private async explain(subject: string, error: unknown): Promise<unknown> {
    const name = (error as Error)?.name;
    if (name === 'InvalidArgumentError' || name === 'InvalidSubjectError') {
      return new EventFault(`cannot publish to subject "${shorten(subject)}": ${errorMessage(error)}`);
    }
    // The connection stays up: only this subject is refused, so sending again can never work.
    if (/permissions violation for publish/i.test(errorMessage(error))) {
      return new EventFault(`the server does not allow publishing to subject "${shorten(subject)}": ${errorMessage(error)}`);
    }
    if (name === 'JetStreamApiError' && (error as { code?: unknown }).code === MESSAGE_TOO_LARGE) {
      return new EventFault(`the JetStream stream for subject "${shorten(subject)}" refused the message: ${errorMessage(error)}`);
    }
    // The client says "JetStreamNotEnabled" for a 503 (no responders): with JetStream on, that means no
    // stream captures the subject. Ask the server which, so a stream that is only restarting is retried.
    if (name === 'JetStreamNotEnabled' || /no responders|503/i.test(errorMessage(error))) {
      try {
        await this.jsm.streams.find(subject);
      } catch (lookup) {
        if ((lookup as Error)?.name === 'StreamNotFoundError') {
          return new EventFault(
            `no JetStream stream captures the subject "${shorten(subject)}" (the server answered 503, no responders); add a stream for it, e.g. nats stream add --subjects '${subject.split('.')[0]}.>'`,
          );
        }
        if ((lookup as Error)?.name === 'JetStreamNotEnabled') {
          return new EventFault(`JetStream is not enabled on ${this.config.display} (start nats-server with -js)`);
        }
      }
    }
    return error;
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.close().catch(() => {});
  }
}

/** The NATS client comes in two packages: one missing, the other is most likely missing too. */
const NATS_PACKAGES = ['@nats-io/transport-node', '@nats-io/jetstream'];

/** Connects to the server and JetStream. A refused or silent server rejects (retried by the caller). */
export async function connectNats(config: NatsConfig): Promise<Link> {
  const [{ connect, headers }, { jetstream, jetstreamManager }] = await Promise.all([
    loadDriver<typeof NatsTransport>('@nats-io/transport-node', 'nats://', NATS_PACKAGES),
    loadDriver<typeof Jetstream>('@nats-io/jetstream', 'nats://', NATS_PACKAGES),
  ]);
  let nc: NatsConnection;
  try {
    nc = await connect(connectOptions(config));
  } catch (error) {
    if (isAuthError(error)) throw environment(`${config.display}: authentication failed (${redact(errorMessage(error))})`, error);
    throw error;
  }
  try {
    // checkAPI false: the manager's first request would otherwise fail on a server without JetStream
    // before any event is tried; the 503 of a publish is explained per subject instead.
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    return new NatsLink(config, nc, jetstream(nc, { timeout: ACK_TIMEOUT_MS }), jsm, headers);
  } catch (error) {
    await nc.close().catch(() => {});
    throw error;
  }
}
