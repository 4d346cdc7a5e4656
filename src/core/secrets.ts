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
  let out = text;
  // Known secrets first (longest first, so one that contains another goes whole), in the forms a
  // URL may carry them; then whatever still has a password's place in a URL.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  }
  // A ':' that ends the URL in a message ("…?password=x: connection refused") is the message's.
  out = out.replace(/([?&]password=)[^&\s]*?(?=:?(?:[\s&#]|$))/gi, '$1***');
  return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^\s]*@(?=[^@\s]*$|[^@\s]*\s)/gi, '$1***@');
}
