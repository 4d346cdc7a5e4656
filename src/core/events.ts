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

export function isSystemStream(streamId: string): boolean {
  return streamId.startsWith(SYSTEM_PREFIX);
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
