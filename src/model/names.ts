/**
 * Names that go into rules as typed: interface names and owners (UIDs, GIDs, groups). Upstream
 * copies them verbatim; these checks let through what iptables takes as meant and nothing that
 * could carry other text into a restore payload.
 */
import { parseDecimal } from './network.js';

/** Linux interface-name rules (at most 15 bytes; no whitespace, `/` or `:`), plus no quoting or control characters. */
export function checkInterfaceName(name: string): string | undefined {
  if (name.length === 0) return 'an interface name cannot be empty';
  if (Buffer.byteLength(name) > 15) return 'an interface name has at most 15 bytes';
  if (name === '.' || name === '..') return 'not a valid interface name';
  if (/[\s/:"'\\]/.test(name)) return 'an interface name cannot contain whitespace, quotes, "/", ":" or "\\"';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this check refuses.
  if (/[\x00-\x1f\x7f]/.test(name)) return 'an interface name cannot contain control characters';
  if (name.startsWith('-') || name.startsWith('!')) return 'an interface name cannot start with "-" or "!"';
  return undefined;
}

const OWNER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;
const MAX_OWNER_ID = 4294967294;

/**
 * A numeric uid/gid (0–4294967294), a range `FIRST-LAST` or `FIRST:LAST` (the owner match
 * takes both), or a user/group name. Upstream copies the item into the rule as written.
 */
export function checkOwnerId(id: string): string | undefined {
  if (parseDecimal(id, MAX_OWNER_ID) !== undefined || OWNER_NAME.test(id)) return undefined;
  const range = /^([0-9]+)[-:]([0-9]+)$/.exec(id);
  const first = parseDecimal(range?.[1] ?? '', MAX_OWNER_ID);
  const last = parseDecimal(range?.[2] ?? '', MAX_OWNER_ID);
  if (first !== undefined && last !== undefined) {
    return first <= last ? undefined : 'the range starts after it ends (the kernel refuses the rule)';
  }
  return 'expected a numeric id 0-4294967294, a range FIRST-LAST or a user/group name';
}
