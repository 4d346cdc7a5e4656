import { usage } from '../../core/errors.js';
import { checkNames, isJsonObject, isSystemStream, type ExpectedVersion, type JsonObject } from '../../core/events.js';
import type { Context } from '../context.js';

export function parseJsonObject(text: string, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw usage(`${what} is not valid JSON: ${(error as Error).message}`);
  }
  if (!isJsonObject(value)) throw usage(`${what} must be a JSON object`);
  return value;
}

/** Versions are 32-bit integers in the PostgreSQL store; no stream of either store gets near. */
const MAX_VERSION = 2_147_483_647;

export function parseExpectedVersion(text: string): ExpectedVersion {
  if (text === 'any' || text === 'no-stream') return text;
  if (!/^\d+$/.test(text)) throw usage(`--expected-version: "${text}" is not a version, "any" or "no-stream"`);
  const version = Number(text);
  if (version > MAX_VERSION) throw usage(`--expected-version: ${text} is past the largest stream version (${MAX_VERSION})`);
  return version;
}

export function checkStreamId(streamId: string): void {
  if (streamId.trim() === '') throw usage('the stream id is empty');
  if (isSystemStream(streamId)) throw usage(`"${streamId}": streams starting with $ belong to the engine`);
}

export interface AppendFlags {
  expectedVersion?: string;
  metadata?: string;
}

export async function append(ctx: Context, streamId: string, type: string, json: string | undefined, flags: AppendFlags) {
  checkStreamId(streamId);
  if (type.trim() === '') throw usage('the event type is empty');
  // Before the store is opened: a refused append must not create one.
  checkNames(streamId, type);
  const data = json === undefined ? {} : parseJsonObject(json, 'the event data');
  const metadata = flags.metadata === undefined ? {} : parseJsonObject(flags.metadata, '--metadata');
  const expected = flags.expectedVersion === undefined ? 'any' : parseExpectedVersion(flags.expectedVersion);
  const store = await ctx.openStore(true);
  const result = await store.append(streamId, [{ type, data, metadata }], expected);
  if (ctx.out.json) ctx.out.data({ streamId, ...result });
  else ctx.out.line(String(result.position));
}
