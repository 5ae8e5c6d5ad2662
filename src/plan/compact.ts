/**
 * `--compact-rules`: fewer rules with the same effect, for long CIDR and port lists. Every
 * list this touches becomes consecutive rules with one target (all RETURN, or all the same
 * jump), so only the union of what they match counts, never their order or overlaps:
 * - CIDRs are merged per family: duplicates dropped, overlapping and adjacent prefixes
 *   aggregated into the fewest prefixes that cover exactly the same addresses;
 * - ports are merged the same way and grouped into `-m multiport --dports` rules of at most
 *   15 ports, a range counting as two (iptables-extensions(8)); a group of one stays `--dport`.
 *
 * The merge works on the bigint values `Cidr` already carries. (ip-num's Pool.aggregate gives
 * the same prefixes, as compact.test.ts checks, but takes seconds for 10 000 CIDRs, and loading
 * ip-num costs every run more than a dry run takes.)
 */
import type { IpFamily } from '../model/family.js';
import type { Match } from '../model/netfilter.js';
import { ADDRESS_BITS, type Cidr, cidrOf, formatPortRange, networkValue, type PortRange } from '../model/network.js';

/** multiport's limit: at most 15 ports per rule, a `first:last` range counting as two. */
export const MULTIPORT_SLOTS = 15;

/** The smallest set of prefixes covering exactly [first, last]. */
function coverRange(family: IpFamily, first: bigint, last: bigint): Cidr[] {
  const bits = ADDRESS_BITS[family];
  const out: Cidr[] = [];
  let start = first;
  while (start <= last) {
    // The largest block aligned at `start` that does not run past `last`.
    let size = 0n;
    while (size < bits && (start & ((1n << (size + 1n)) - 1n)) === 0n && start + (1n << (size + 1n)) - 1n <= last)
      size++;
    out.push(cidrOf(family, start, Number(bits - size)));
    start += 1n << size;
  }
  return out;
}

/**
 * Merges CIDRs per family into the fewest prefixes covering the same addresses, IPv4 first,
 * each family in address order. Addresses are masked (`10.0.0.1/8` becomes `10.0.0.0/8`), as
 * the kernel stores them anyway.
 */
export function mergeCidrs(cidrs: readonly Cidr[]): Cidr[] {
  const out: Cidr[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    const ranges = cidrs
      .filter((cidr) => cidr.family === family)
      .map((cidr) => {
        const first = networkValue(cidr);
        return [first, first + (1n << (ADDRESS_BITS[family] - BigInt(cidr.prefixLength))) - 1n] as const;
      })
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let current: [bigint, bigint] | undefined;
    for (const [first, last] of ranges) {
      if (current && first <= current[1] + 1n) {
        if (last > current[1]) current[1] = last;
        continue;
      }
      if (current) out.push(...coverRange(family, current[0], current[1]));
      current = [first, last];
    }
    if (current) out.push(...coverRange(family, current[0], current[1]));
  }
  return out;
}

/** Merges overlapping and adjacent port ranges, in port order. */
export function mergePorts(ports: readonly PortRange[]): PortRange[] {
  const sorted = [...ports].sort((a, b) => a.first - b.first);
  const out: { first: number; last: number }[] = [];
  for (const { first, last } of sorted) {
    const previous = out[out.length - 1];
    if (previous && first <= previous.last + 1) previous.last = Math.max(previous.last, last);
    else out.push({ first, last });
  }
  return out;
}

/** Port lists of at most `maxSlots` slots each (a range takes two). */
export function groupPorts(ports: readonly PortRange[], maxSlots = MULTIPORT_SLOTS): PortRange[][] {
  const groups: PortRange[][] = [];
  let slots = 0;
  for (const port of ports) {
    const need = port.first === port.last ? 1 : 2;
    if (groups.length === 0 || slots + need > maxSlots) {
      groups.push([]);
      slots = 0;
    }
    groups[groups.length - 1]?.push(port);
    slots += need;
  }
  return groups;
}

/**
 * The destination-port matches of a list, one per rule: one per port as upstream writes them,
 * or with `compact` merged and grouped into multiport matches.
 */
export function destinationPortMatches(ports: readonly PortRange[], compact: boolean): Match[] {
  if (!compact) return ports.map((port) => ({ kind: 'destinationPort', port }));
  return groupPorts(mergePorts(ports)).map((group): Match => {
    const [only] = group;
    return group.length === 1 && only ? { kind: 'destinationPort', port: only } : { kind: 'multiport', ports: group };
  });
}

/** A CIDR list as upstream uses it, or merged with `compact`. */
export function cidrList(cidrs: readonly Cidr[], compact: boolean): readonly Cidr[] {
  return compact ? mergeCidrs(cidrs) : cidrs;
}

/** The ports a port match names (for provenance text). */
export function portsOf(match: Match): readonly PortRange[] {
  if (match.kind === 'destinationPort' || match.kind === 'sourcePort') return [match.port];
  return match.kind === 'multiport' ? match.ports : [];
}

/** Ports as a user writes them in a flag: `80,443,1000:2000`. */
export function portsText(ports: readonly PortRange[]): string {
  return ports.map(formatPortRange).join(',');
}
