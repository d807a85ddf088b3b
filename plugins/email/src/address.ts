/**
 * Email address checks. Upstream accepts a recipient when Go's `mail.ParseAddress` reads it back
 * as exactly that bare address (no display name, no comments): a dot-atom or quoted local part,
 * `@`, and a domain. This is that rule for the cases that occur in configs and usernames.
 */
const ATOM = "[\\p{L}\\p{N}!#$%&'*+/=?^_`{|}~-]+";
const DOT_ATOM = `${ATOM}(?:\\.${ATOM})*`;
const QUOTED = '"(?:[^"\\\\\\r\\n]|\\\\.)*"';
const DOMAIN = `(?:${DOT_ATOM}|\\[[^\\[\\]\\\\\\s]*\\])`;
const ADDR_SPEC = new RegExp(`^(?:${DOT_ATOM}|${QUOTED})@${DOMAIN}$`, 'u');

/** A bare `local@domain` address. */
export function isEmail(value: string): boolean {
  return value.length <= 254 && ADDR_SPEC.test(value);
}

/**
 * The address inside a From value: `noreply@example.com` or `Teleport <noreply@example.com>`.
 * Undefined when it holds no valid address.
 */
export function mailboxAddress(value: string): string | undefined {
  const trimmed = value.trim();
  const angle = /<([^<>]*)>\s*$/.exec(trimmed);
  const address = angle ? angle[1]!.trim() : trimmed;
  return isEmail(address) ? address : undefined;
}

/** The domain of a bare address (lower-case), e.g. for Message-IDs. */
export function addressDomain(address: string): string {
  const at = address.lastIndexOf('@');
  return (at < 0 ? address : address.slice(at + 1)).replace(/^\[|\]$/g, '').toLowerCase();
}
