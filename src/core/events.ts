import { EsError } from './errors.js';

export type JsonObject = Record<string, unknown>;

/** An event as the store keeps it. */
export interface StoredEvent<Data extends JsonObject = JsonObject> {
  position: number;
  id: string;
  streamId: string;
  version: number;
  type: string;
  data: Data;
  metadata: JsonObject;
  recordedAt: string;
}

/** An event to append; the store assigns position, version and time. */
export interface NewEvent<Data extends JsonObject = JsonObject> {
  id?: string;
  type: string;
  data?: Data;
  metadata?: JsonObject;
}

/** An event to append together with the stream it belongs to (import, demo). */
export interface NewStreamEvent extends NewEvent {
  streamId: string;
}

/** `no-stream` and 0 both mean the stream must not exist yet; `any` skips the check. */
export type ExpectedVersion = number | 'any' | 'no-stream';

export const SYSTEM_PREFIX = '$';

/**
 * The longest event id, in UTF-8 bytes. Each target records handled ids under a unique key, and
 * MariaDB's (VARBINARY) holds 1024 bytes: a longer id would wedge the projection there.
 */
export const MAX_EVENT_ID_BYTES = 1024;

export function isSystemStream(streamId: string): boolean {
  return streamId.startsWith(SYSTEM_PREFIX);
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// C0 controls, DEL and C1 controls: a terminal acts on them, so an id holding one prints as garbage
// or rewrites the screen. Stored events are never changed, so they are refused on the way in.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
const SHOWN = 60;

function hex(char: string): string {
  return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** The value with its control characters written as `\xNN`, cut short when long. */
export function escapeControls(value: string): string {
  const cut = value.length > SHOWN ? `${value.slice(0, SHOWN)}…` : value;
  return cut.replace(CONTROLS, hex);
}

/**
 * Throws a USAGE error when a stream id or event type holds a control character. One check for
 * `append`, `import` and the library, so what one refuses the others refuse too.
 */
export function checkNames(streamId: string, type: string, id?: string): void {
  const names = [['stream id', streamId], ['event type', type], ...(id === undefined ? [] : [['event id', id]])] as const;
  for (const [what, value] of names) {
    // A lone surrogate (a \ud800 escape in JSON) has no UTF-8 form: stored, it would read back as
    // something else, and two such ids could print the same.
    if (LONE_SURROGATE.test(value)) {
      throw new EsError('USAGE', `the ${what} "${escapeControls(value.replace(LONE_SURROGATE_ALL, '\ufffd'))}" contains a lone surrogate (not Unicode text)`);
    }
    if (what === 'event id') {
      const bytes = Buffer.byteLength(value as string);
      if (bytes > MAX_EVENT_ID_BYTES) {
        throw new EsError(
          'USAGE',
          `the event id "${escapeControls(value as string)}" is ${bytes} bytes long; an event id is at most ${MAX_EVENT_ID_BYTES} bytes (UTF-8)`,
        );
      }
      continue;
    }
    const found = CONTROL.exec(value);
    if (found) {
      throw new EsError('USAGE', `the ${what} "${escapeControls(value)}" contains a control character (${hex(found[0])})`);
    }
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATE_ALL = new RegExp(LONE_SURROGATE.source, 'g');

/** JSON with object keys sorted, so two encodings of the same value compare equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as JsonObject).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** Whether an event given again (an import re-run) is the one stored under its id. */
export function sameEvent(stored: { streamId: string; type: string; data: unknown; metadata: unknown }, given: NewStreamEvent): boolean {
  return (
    stored.streamId === given.streamId &&
    stored.type === given.type &&
    canonicalJson(stored.data) === canonicalJson(given.data ?? {}) &&
    canonicalJson(stored.metadata) === canonicalJson(given.metadata ?? {})
  );
}

/** Throws CONFLICT unless a stream at `current` satisfies the expected version. */
export function checkExpectedVersion(streamId: string, current: number, expected: ExpectedVersion): void {
  if (expected === 'any') return;
  const wanted = expected === 'no-stream' ? 0 : expected;
  if (current === wanted) return;
  const have = current === 0 ? 'does not exist' : `is at version ${current}`;
  const want = wanted === 0 ? 'no stream' : `version ${wanted}`;
  throw new EsError('CONFLICT', `append conflict: stream "${streamId}" ${have}, expected ${want}`, {
    details: { streamId, current, expected: wanted },
  });
}
