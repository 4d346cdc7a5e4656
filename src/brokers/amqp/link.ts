import type * as Amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';
import type { StoredEvent } from '../../core/events.js';
import { environment, errorMessage } from '../../core/errors.js';
import { renderTemplate, type PublishConfig } from '../../core/publish.js';
import { redact } from '../../core/secrets.js';
import { loadDriver } from '../../drivers/require-driver.js';
import { ACK_TIMEOUT_MS, BROKER_CONNECT_TIMEOUT_MS, EventFault, UnclearFault, eventBody, eventHeaders, shorten, type Link } from '../link.js';

type AmqpConfig = Extract<PublishConfig, { kind: 'amqp' }>;

/** AMQP carries exchange names and routing keys as short strings: at most 255 bytes of UTF-8. */
export const MAX_NAME_BYTES = 255;

/** Channel errors that refuse a message (no such exchange, too large, not allowed), not the broker's trouble. */
const REFUSALS = /\b(403|404|406)\b|NOT_FOUND|PRECONDITION_FAILED|ACCESS_REFUSED/;
const FRAME_TOO_LARGE = /frame_too_large/;

/** Why one of the names is longer than AMQP allows, or null. */
function longName(names: Record<string, string>): string | null {
  for (const [what, name] of Object.entries(names)) {
    const bytes = Buffer.byteLength(name);
    if (bytes > MAX_NAME_BYTES) return `the ${what} "${shorten(name)}" is ${bytes} bytes, more than the ${MAX_NAME_BYTES} AMQP allows`;
  }
  return null;
}

class AmqpLink implements Link {
  private lost = false;
  /** Why the server closed the channel, when it did. */
  private channelError: Error | null = null;
  /** Why the server closed the connection, when it did. */
  private connectionError: Error | null = null;
  /** Message ids the broker returned as unroutable (`mandatory`); a returned message is still confirmed. */
  private readonly returned = new Map<string, string>();

  constructor(
    private readonly config: AmqpConfig,
    private readonly connection: ChannelModel,
    private readonly channel: ConfirmChannel,
  ) {
    const gone = (): void => {
      this.lost = true;
    };
    // Unheard, an 'error' event would crash the process; the callbacks of the messages in flight fail.
    connection.on('error', (error: Error) => {
      this.connectionError = error;
    });
    connection.on('close', gone);
    channel.on('error', (error: Error) => {
      this.channelError = error;
    });
    channel.on('close', gone);
    channel.on('return', (message: Message) => {
      const id = message.properties.messageId as string | undefined;
      const fields = message.fields as unknown as { replyCode?: number; replyText?: string };
      if (id !== undefined) this.returned.set(id, `${fields.replyCode} ${fields.replyText}`);
    });
  }

  get usable(): boolean {
    return !this.lost;
  }

  send(event: StoredEvent): Promise<void> {
    const exchange = renderTemplate(this.config.exchange, event);
    const routingKey = renderTemplate(this.config.routingKey, event);
    const tooLong = longName({ exchange, 'routing key': routingKey });
    if (tooLong) return Promise.reject(new EventFault(tooLong));
    const options = {
      mandatory: true,
      persistent: true,
      messageId: event.id,
      type: event.type,
      contentType: 'application/json',
      timestamp: Math.floor(Date.parse(event.recordedAt) / 1000),
      headers: eventHeaders(event),
    };
    return new Promise((resolve, reject) => {
      // A confirm that never comes (a broker that hangs) counts as a lost connection.
      const timer = setTimeout(() => {
        this.lost = true;
        reject(new Error(`no publisher confirm within ${ACK_TIMEOUT_MS / 1000}s`));
      }, ACK_TIMEOUT_MS);
      const settle = (error: unknown): void => {
        clearTimeout(timer);
        const returned = this.returned.get(event.id);
        this.returned.delete(event.id);
        if (error) return reject(this.explain(error));
        if (returned !== undefined) {
          return reject(
            new EventFault(
              `RabbitMQ returned the message as unroutable (${returned}): no queue is bound to exchange "${exchange}" for routing key "${shorten(routingKey)}"`,
            ),
          );
        }
        resolve();
      };
      try {
        this.channel.publish(exchange, routingKey, eventBody(event), options, settle);
      } catch (error) {
        // amqplib cannot encode this message (a header table over its 64 KiB, a name too long):
        // nothing was sent, and sending it again can never work.
        if (error instanceof TypeError || error instanceof RangeError) {
          clearTimeout(timer);
          return reject(new EventFault(`amqplib cannot encode the message: ${errorMessage(error)}`));
        }
        settle(error);
      }
    });
  }

  /** A channel (or connection) the server closed because of a message: which message is not said, hence unclear. */
  private explain(error: unknown): unknown {
    const why = this.channelError;
    if (why && REFUSALS.test(why.message)) return new UnclearFault(`RabbitMQ refused the message: ${why.message}`);
    // Properties (headers) larger than the connection's frame_max: the server closes the connection.
    const lost = this.connectionError;
    if (lost && FRAME_TOO_LARGE.test(lost.message)) return new UnclearFault(`RabbitMQ refused the message: ${lost.message}`);
    return error;
  }

  async close(): Promise<void> {
    this.lost = true;
    await this.connection.close().catch(() => {});
  }
}

/** Connects and opens a confirm channel. A refused or silent server rejects (retried by the caller). */
export async function connectAmqp(config: AmqpConfig): Promise<Link> {
  const { connect } = await loadDriver<typeof Amqp>('amqplib', /^amqps:/i.test(config.to) ? 'amqps://' : 'amqp://');
  let connection: ChannelModel;
  try {
    connection = await connect(config.to, { timeout: BROKER_CONNECT_TIMEOUT_MS });
  } catch (error) {
    if (/ACCESS_REFUSED|403/.test(errorMessage(error))) {
      throw environment(`${config.display}: authentication failed (${redact(errorMessage(error))})`, error);
    }
    throw error;
  }
  connection.on('error', () => {});
  try {
    const channel = await connection.createConfirmChannel();
    return new AmqpLink(config, connection, channel);
  } catch (error) {
    await connection.close().catch(() => {});
    throw error;
  }
}
