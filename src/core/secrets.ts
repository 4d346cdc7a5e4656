/**
 * Passwords es has seen (in a --db or target URL, or PGPASSWORD). Every line es prints about an
 * error goes through `redact`, so a driver message or a stack that quotes one never shows it.
 */
const secrets = new Set<string>();

export function registerSecret(secret: string | undefined): void {
  // A very short one would blank out ordinary words; URLs are redacted by their shape anyway.
  if (secret && secret.length >= 4) secrets.add(secret);
}

export function redact(text: string): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/\s]*@/gi, '$1***@');
  // Longest first, so a password that contains another is replaced whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
  return out;
}
