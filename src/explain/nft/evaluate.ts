/**
 * Does one nftables match hold for a packet? The semantics are nft(8)'s, with the kernel's
 * where they differ from iptables': a payload match (`ip daddr`, `tcp dport`) first checks
 * the packet's family or protocol, so `ip daddr != X` does not match an IPv6 packet and
 * `tcp dport != 53` does not match UDP; `meta skuid` breaks the rule (no match, `!=`
 * included) for a packet without a local socket (net/netfilter/nft_meta.c).
 */
import type { MatchResult } from '../evaluate.js';
import type { PacketState } from '../packet.js';
import type { Interval, NftItem, NftTest } from './expressions.js';

const PROTOCOL_NUMBERS: Readonly<Record<string, string>> = { '6': 'tcp', '17': 'udp' };

const inRanges = <T extends number | bigint>(ranges: readonly Interval<T>[], value: T) =>
  ranges.some((r) => r.first <= value && value <= r.last);

/** nft's interface wildcard: a trailing `*` matches every name with that prefix. */
function interfaceMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** The test's value for the packet: true/false (maybe with a note), or `breaks`: no match, `!=` or not. */
type Value =
  | boolean
  | { readonly value: boolean; readonly note: string }
  | { readonly breaks: true; readonly note?: string };
const BREAKS: Value = { breaks: true };

function test(t: NftTest, packet: PacketState): Value {
  const c = packet.connection;
  switch (t.kind) {
    case 'interface': {
      // On the output hook there is no input interface (and on prerouting no output one): nft compares "".
      const name = (t.direction === 'in' ? c.inInterface : c.outInterface) ?? '';
      return t.names.some((n) => interfaceMatches(n, name));
    }
    case 'l4proto':
      if (t.family && t.family !== c.family) return BREAKS;
      return t.protocols.some((p) => (PROTOCOL_NUMBERS[p] ?? p) === c.protocol);
    case 'nfproto':
      return t.family === c.family;
    case 'address': {
      if (t.family !== c.family) return BREAKS;
      const address = t.field === 'saddr' ? c.source : packet.destination;
      return inRanges(t.ranges, address.value);
    }
    case 'port': {
      if (t.protocol !== 'th' && t.protocol !== c.protocol) return BREAKS;
      return inRanges(t.ranges, t.field === 'sport' ? c.sourcePort : packet.destinationPort);
    }
    case 'owner': {
      if (c.direction === 'inbound') return BREAKS;
      const id = t.owner === 'uid' ? c.uid : c.gid;
      if (id === undefined)
        return {
          value: false,
          note: `no --${t.owner} given: taken as an app process, not \`${t.owner} ${t.ranges.map((r) => r.first).join(',')}\``,
        };
      if (t.name !== undefined)
        return {
          breaks: true,
          note: `owner \`${t.name}\` is a name: nft resolves it when it loads the rule, not here; assuming no match`,
        };
      return inRanges(t.ranges, id);
    }
    case 'mark': {
      const value = t.of === 'packet' ? packet.mark : packet.connmark;
      const masked = (value & (t.mask ?? 0xffffffff)) >>> 0;
      return t.values.some((v) => v >>> 0 === masked);
    }
    case 'ctState':
      return t.states.includes(packet.state.toLowerCase());
    case 'ctZone':
      return t.zones.includes(packet.zone);
    default: {
      const never: never = t;
      return never;
    }
  }
}

/** Evaluates one match (or unknown match) of a rule; statements and verdicts are the walker's. */
export function evaluateNftMatch(
  item: Extract<NftItem, { kind: 'match' | 'unknownMatch' }>,
  packet: PacketState,
): MatchResult {
  if (item.kind === 'unknownMatch')
    return { matched: false, note: `unknown match \`${item.text}\`: assuming no match` };
  const result = test(item.test, packet);
  if (typeof result === 'boolean') return { matched: item.negated ? !result : result };
  if ('breaks' in result) return result.note ? { matched: false, note: result.note } : { matched: false };
  return { matched: item.negated ? !result.value : result.value, note: result.note };
}
