import { usage } from '../../core/errors.js';
import { redact as redactUrl, registerSecret } from '../../core/secrets.js';

/** es's tables live in this schema unless `?schema=` names another. */
export const DEFAULT_SCHEMA = 'es';
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresLocation {
  /** The URL as node-postgres gets it: without es's own `schema` parameter. */
  connectionString: string;
  schema: string;
  /** The URL as es shows it: the password replaced by `***`. */
  display: string;
}

/** `postgres://user:pass@host:port/db?schema=name`; libpq's PG* variables fill in the rest. */
export function parsePostgresUrl(url: string): PostgresLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Shown without the part between :// and the host: an unparsable URL may hide its password anywhere.
    throw usage(`the PostgreSQL URL in --db cannot be parsed (a password holding / @ : ? # must be percent-encoded)`);
  }
  if (parsed.password) registerSecret(decodeURIComponent(parsed.password));
  registerSecret(parsed.searchParams.get('password') ?? undefined);
  const schema = parsed.searchParams.get('schema') ?? DEFAULT_SCHEMA;
  if (!IDENTIFIER.test(schema)) {
    throw usage(`schema "${schema}" is not a plain identifier (lower-case letters, digits, _; at most 63)`);
  }
  parsed.searchParams.delete('schema');
  const connectionString = parsed.toString();
  return { connectionString, schema, display: redactUrl(url) };
}
