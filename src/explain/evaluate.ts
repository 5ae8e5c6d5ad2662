/**
 * Does one match hold for a packet? The semantics follow iptables(8) and
 * iptables-extensions(8), with the kernel's behaviour where the man page is silent (noted).
 */
import type { KernelMatch } from '../model/kernel-rule.js';
import { type Cidr, networkValue, type IpAddress, type PortRange } from '../model/network.js';
import type { PacketState } from './packet.js';

/** Whether a match held, and anything the user should know about how it was decided. */
export interface MatchResult {
  readonly matched: boolean;
  readonly note?: string;
}

const ALL_ONES = 0xffffffff;
const inRange = (range: PortRange, port: number) => range.first <= port && port <= range.last;

/** The CIDR contains the address (never one of the other family). */
export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.family !== address.family) return false;
  const host = BigInt(cidr.family === 'ipv4' ? 32 : 128) - BigInt(cidr.prefixLength);
  return networkValue(cidr) === (address.value >> host) << host;
}

/** An interface name with a trailing `+` matches every name with that prefix. */
function interfaceMatches(pattern: string, name: string | undefined): boolean {
  if (name === undefined) return false;
  return pattern.endsWith('+') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

function negate(negated: true | undefined, value: boolean): boolean {
  return negated ? !value : value;
}

/** Evaluates one match against the packet in its current state. */
export function evaluateMatch(match: KernelMatch, packet: PacketState): MatchResult {
  const c = packet.connection;
  switch (match.kind) {
    case 'protocol':
      return { matched: negate(match.negated, match.protocol === 'all' || match.protocol === c.protocol) };
    case 'source':
      return { matched: negate(match.negated, cidrContains(match.cidr, c.source)) };
    case 'destination':
      return { matched: negate(match.negated, cidrContains(match.cidr, packet.destination)) };
    case 'inInterface':
      return { matched: negate(match.negated, interfaceMatches(match.name, c.inInterface)) };
    case 'outInterface':
      return { matched: negate(match.negated, interfaceMatches(match.name, c.outInterface)) };
    case 'destinationPort':
      return { matched: negate(match.negated, inRange(match.port, packet.destinationPort)) };
    case 'sourcePort':
      return { matched: negate(match.negated, inRange(match.port, c.sourcePort)) };
    case 'multiport': {
      const ports =
        match.direction === 'source'
          ? [c.sourcePort]
          : match.direction === 'either'
            ? [c.sourcePort, packet.destinationPort]
            : [packet.destinationPort];
      return {
        matched: negate(
          match.negated,
          match.ports.some((r) => ports.some((p) => inRange(r, p))),
        ),
      };
    }
    case 'owner':
      return ownerMatch(match, packet);
    case 'mark':
      return { matched: negate(match.negated, (packet.mark & (match.mask ?? ALL_ONES)) >>> 0 === match.mark >>> 0) };
    case 'connmark':
      return {
        matched: negate(match.negated, (packet.connmark & (match.mask ?? ALL_ONES)) >>> 0 === match.mark >>> 0),
      };
    case 'conntrack':
      return { matched: negate(match.negated, match.states.includes(packet.state)) };
    case 'comment':
      return { matched: true };
    case 'unknown':
      return { matched: false, note: `unknown match \`${match.text}\`: assuming no match` };
    default: {
      const never: never = match;
      return never;
    }
  }
}

/**
 * `-m owner` looks at the sending socket. A packet without a local socket (anything that
 * arrives from outside) matches only the negated form: the kernel's xt_owner returns
 * `match ^ invert == 0` then (net/netfilter/xt_owner.c).
 */
function ownerMatch(match: Extract<KernelMatch, { kind: 'owner' }>, packet: PacketState): MatchResult {
  const c = packet.connection;
  const id = match.owner === 'uid' ? c.uid : c.gid;
  if (c.direction === 'inbound') return { matched: match.negated === true };
  if (id === undefined)
    return {
      matched: match.negated === true,
      note: `no --${match.owner} given: taken as an app process, not ${match.owner} ${match.id}`,
    };
  if (!/^[0-9]+$/.test(match.id))
    return {
      matched: negate(match.negated, false),
      note: `owner \`${match.id}\` is a name: it is resolved on the node, not here, so it is taken as not ${id}`,
    };
  return { matched: negate(match.negated, Number(match.id) === id) };
}
