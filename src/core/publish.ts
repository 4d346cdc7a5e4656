import type { StoredEvent } from './events.js';
import { redact, registerSecret } from './secrets.js';

/** A projection's `publish` after validation: where its events go, and how each is addressed. */
export type PublishConfig =
  { kind: 'nats'; to: string; display: string; subject: string } | { kind: 'amqp'; to: string; display: string; exchange: string; routingKey: string };

/** The fields a template may name. */
const FIELDS = ['type', 'streamId'] as const;
const PLACEHOLDER = /\{([^{}]*)\}/g;

const FIELDS_BY_KIND = { nats: ['to', 'subject'], amqp: ['to', 'exchange', 'routingKey'] } as const;

/** Checks a template's placeholders; returns the reason it is invalid, or null. */
function templateProblem(template: string): string | null {
  for (const [, name] of template.matchAll(PLACEHOLDER)) {
    if (!(FIELDS as readonly string[]).includes(name as string)) {
      return `unknown placeholder {${name}} (templates take ${FIELDS.map((f) => `{${f}}`).join(' and ')})`;
    }
  }
  return null;
}

// What a broker would read as structure: `.` separates NATS subject tokens and RabbitMQ topic words,
// `*` and `>` are NATS wildcards, white space ends a NATS subject; `%` so that the escape is reversible.
const ESCAPED = /[%.*>\s\p{Cc}]/gu;
const utf8 = new TextEncoder();

/**
 * A value as it goes into a subject, routing key or exchange: the characters above as `%XX` of their
 * UTF-8 bytes, the rest as it is. It stays one token, never a wildcard, and decodeURIComponent (or
 * any URL-decoder) gives the value back.
 */
export function encodeToken(value: string): string {
  return value.replace(ESCAPED, (char) => Array.from(utf8.encode(char), (byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

/** Fills `{type}` and `{streamId}` from the event, each encoded by `encodeToken`. */
export function renderTemplate(template: string, event: StoredEvent): string {
  return template.replace(PLACEHOLDER, (_, name: string) => encodeToken(name === 'type' ? event.type : event.streamId));
}

function kindOf(to: string): 'nats' | 'amqp' | null {
  if (/^nats:\/\//i.test(to)) return 'nats';
  if (/^amqps?:\/\//i.test(to)) return 'amqp';
  return null;
}

/**
 * Validates `publish` from a projection file. Returns the reason it is invalid as a string (the
 * caller names the file), or the config. Registers the URL's password so no output shows it.
 */
export function parsePublish(value: unknown): PublishConfig | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return "publish must be an object such as { to: 'nats://127.0.0.1:4222', subject: 'events.{type}' }";
  }
  const raw = value as Record<string, unknown>;
  const to = raw.to;
  if (typeof to !== 'string' || to === '') return 'publish.to must be a broker URL: nats://host:port or amqp://user:pass@host:port';
  const kind = kindOf(to);
  let url: URL;
  try {
    url = new URL(to);
  } catch {
    return `publish.to "${redact(to)}" is not a valid URL`;
  }
  registerSecret(url.password ? decodeURIComponent(url.password) : undefined);
  const display = redact(to);
  if (kind === null) return `publish.to "${display}" is not a broker URL: es publishes to nats:// (JetStream) and amqp:// (RabbitMQ)`;
  if (url.hostname === '') return `publish.to "${display}" names no host`;
  const allowed: readonly string[] = FIELDS_BY_KIND[kind];
  const unknown = Object.keys(raw).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    return `publish has ${unknown.map((k) => `"${k}"`).join(', ')}, which ${kind === 'nats' ? 'a nats:// broker' : 'an amqp:// broker'} does not take (it takes ${allowed.join(', ')})`;
  }
  const template = (field: string, mayBeEmpty: boolean): string | { problem: string } => {
    const text = raw[field];
    if (typeof text !== 'string' || (!mayBeEmpty && text === '')) {
      return { problem: `publish.${field} must be ${mayBeEmpty ? 'a string' : 'a non-empty string'} (templates take {type} and {streamId})` };
    }
    const problem = templateProblem(text);
    return problem ? { problem: `publish.${field}: ${problem}` } : text;
  };
  if (kind === 'nats') {
    const subject = template('subject', false);
    if (typeof subject !== 'string') return subject.problem;
    if (/\s/.test(subject)) return `publish.subject "${subject}" has white space, which NATS subjects cannot hold`;
    return { kind, to, display, subject };
  }
  // '' is RabbitMQ's default exchange, which routes by queue name.
  const exchange = template('exchange', true);
  if (typeof exchange !== 'string') return exchange.problem;
  const routingKey = template('routingKey', true);
  if (typeof routingKey !== 'string') return routingKey.problem;
  return { kind, to, display, exchange, routingKey };
}

/** How `list` and `status` show it: the URL without its password, and the address template. */
export function describePublish(config: PublishConfig): string {
  return config.kind === 'nats'
    ? `${config.display} subject ${config.subject}`
    : `${config.display} exchange ${config.exchange === '' ? '(default)' : config.exchange} key ${config.routingKey}`;
}
