/**
 * Value types for ports, addresses and CIDRs. Parsing is strict (it follows Go's
 * `netip.ParsePrefix`, which upstream uses, so what upstream rejects we reject too), and the
 * text we print is formatted here, because upstream's spelling (RFC 5952, `::ffff:a.b.c.d`
 * for IPv4-mapped) is part of the byte-identical output. Parsing is done here too, not with
 * ip-num: loading ip-num computes its range constants, which costs a CLI run more than all its
 * own work (ip-num is loaded only to merge CIDRs, see plan/compact.ts).
 */
import type { IpFamily } from './family.js';

/** A TCP/UDP port or an inclusive `first:last` range. */
export interface PortRange {
  readonly first: number;
  readonly last: number;
  /**
   * The item as the user wrote it (`51980:51980`, `:1000`, ` 81`), printed instead of the
   * numbers: upstream copies port items into rules verbatim. Only `parsePortItem` sets it, and
   * only to text it has checked (digits, one `:`, spaces).
   */
  readonly text?: string;
}

/** An IP address; `text` is how it is printed into rules. */
export interface IpAddress {
  readonly family: IpFamily;
  readonly text: string;
  readonly value: bigint;
}

/** An IP prefix. The address is kept as given (not masked), as upstream does. */
export interface Cidr {
  readonly family: IpFamily;
  readonly address: IpAddress;
  readonly prefixLength: number;
  /** `address/prefixLength`, canonical address spelling. */
  readonly text: string;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** Parses a canonical decimal number (no sign, no leading zeros); undefined otherwise. */
export function parseDecimal(text: string, max: number): number | undefined {
  if (!DECIMAL.test(text) || text.length > 10) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

/** The port as written when it was given, else `80` or `1000:2000`. */
export function formatPortRange(port: PortRange): string {
  if (port.text !== undefined) return port.text;
  return port.first === port.last ? String(port.first) : `${port.first}:${port.last}`;
}

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/;

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

const HEX_FIELD = /^[0-9A-Fa-f]{1,4}$/;

/**
 * The value of an IPv6 address without a zone, or undefined, by the rules of Go's
 * `netip.ParseAddr`: 1-4 hex digits per field, at most one `::` standing for at least one zero
 * field, and an IPv4 address only as the last 32 bits.
 */
export function ipv6Value(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const fields = (half: string) => (half === '' ? [] : half.split(':'));
  const head = fields(halves[0] ?? '');
  const tail = halves.length === 2 ? fields(halves[1] ?? '') : undefined;
  // An embedded IPv4 address can only be the very last field.
  const end = tail ?? head;
  const embedded = end[end.length - 1]?.includes('.') ? end.pop() : undefined;
  if (embedded !== undefined && !IPV4.test(embedded)) return undefined;
  if (![...head, ...(tail ?? [])].every((field) => HEX_FIELD.test(field))) return undefined;
  const given = head.length + (tail?.length ?? 0) + (embedded === undefined ? 0 : 2);
  // Without `::` exactly 8 fields; with it, `::` must stand for at least one.
  if (tail === undefined ? given !== 8 : given > 7) return undefined;
  let value = 0n;
  for (const field of head) value = (value << 16n) | BigInt(`0x${field}`);
  if (tail !== undefined) {
    value <<= BigInt(16 * (8 - given));
    for (const field of tail) value = (value << 16n) | BigInt(`0x${field}`);
  }
  return embedded === undefined ? value : (value << 32n) | ipv4Value(embedded);
}

/** RFC 5952 text, as Go's netip prints it: IPv4-mapped addresses as `::ffff:a.b.c.d`. */
export function formatIpv6(value: bigint): string {
  if (value >> 32n === 0xffffn) return `::ffff:${formatIpv4(value & 0xffffffffn)}`;
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1; // a single zero group is never compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = (from: number, to: number) =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/**
 * Parses an address. With `canonical`, `text` is re-spelled (lower case, compressed);
 * otherwise the validated input text is kept, as upstream keeps DNS servers given to it.
 */
export function parseIpAddress(text: string, options: { canonical: boolean }): IpAddress | string {
  if (IPV4.test(text)) {
    const value = ipv4Value(text);
    return { family: 'ipv4', value, text: options.canonical ? formatIpv4(value) : text };
  }
  if (!text.includes(':')) return 'not an IPv4 or IPv6 address';
  if (!IPV6_CHARS.test(text)) return 'not an IPv6 address (zones and spaces are not accepted)';
  const embedded = text.lastIndexOf(':');
  const tail = text.slice(embedded + 1);
  if (tail.includes('.') && !IPV4.test(tail)) return 'the embedded IPv4 part is not a valid address';
  const value = ipv6Value(text);
  if (value === undefined) return 'not an IPv6 address';
  return { family: 'ipv6', value, text: options.canonical ? formatIpv6(value) : text };
}

/** Parses `ADDRESS/LENGTH` strictly; the address is canonicalised but not masked. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return "no '/' and prefix length";
  const address = parseIpAddress(text.slice(0, slash), { canonical: true });
  if (typeof address === 'string') return address;
  const max = address.family === 'ipv4' ? 32 : 128;
  const prefixLength = parseDecimal(text.slice(slash + 1), max);
  if (prefixLength === undefined) return `the prefix length must be a decimal number 0-${max}`;
  return { family: address.family, address, prefixLength, text: `${address.text}/${prefixLength}` };
}

/** Address bits per family. */
export const ADDRESS_BITS: Readonly<Record<IpFamily, bigint>> = { ipv4: 32n, ipv6: 128n };

/** A CIDR from an address value and prefix length, the address spelled as we print it. */
export function cidrOf(family: IpFamily, value: bigint, prefixLength: number): Cidr {
  const text = family === 'ipv6' ? formatIpv6(value) : formatIpv4(value);
  return { family, address: { family, text, value }, prefixLength, text: `${text}/${prefixLength}` };
}

/** The first address a CIDR covers: its address with the host bits cleared. */
export function networkValue(cidr: Cidr): bigint {
  const host = ADDRESS_BITS[cidr.family] - BigInt(cidr.prefixLength);
  return (cidr.address.value >> host) << host;
}

/** The CIDR with its host bits cleared (`10.0.0.1/8` → `10.0.0.0/8`), as the kernel stores it. */
export function maskCidr(cidr: Cidr): Cidr {
  return cidrOf(cidr.family, networkValue(cidr), cidr.prefixLength);
}

/** A host's CIDR (`/32` or `/128`), spelled as the address is. */
export function hostCidr(address: IpAddress): Cidr {
  const prefixLength = Number(ADDRESS_BITS[address.family]);
  return { family: address.family, address, prefixLength, text: `${address.text}/${prefixLength}` };
}

/**
 * Upstream's loopback test (Go's `netip.Addr.IsLoopback`) looks at the prefix's address only:
 * `127.x.x.x`, `::1`, and — because Go unmaps first — an IPv4-mapped `::ffff:127.x.x.x`.
 * (`0.0.0.0/0` contains loopback but does not count; nor does IPv4-compatible `::127.0.0.1`.)
 */
export function isLoopbackAddress(address: IpAddress): boolean {
  if (address.family === 'ipv4') return address.value >> 24n === 127n;
  return address.value === 1n || address.value >> 24n === 0xffff7fn;
}
