/**
 * Where the nftables mode turns the shared decisions (`plan/decisions.ts`) into rules
 * differently from the iptables mode, each in one function that says why.
 */
import type { CaptureConfig } from '../../config/capture-config.js';
import type { IpFamily } from '../../model/family.js';
import type { NftChainName } from '../../model/nftables.js';
import type { ShortTable } from './builder.js';
import type { NftPlanContext } from './context.js';
import type { Cidr, PortRange } from '../../model/network.js';
import { because } from '../builder.js';
import { cidrList } from '../compact.js';
import { dnsServers, portGroups } from '../decisions.js';

/**
 * An interface name in nft's terms. iptables reads a trailing `+` as "any name with this
 * prefix"; nft's wildcard is `*`, and upstream copies `eth+` verbatim, which nft refuses (spec
 * §17.11). The user's value keeps its iptables meaning in both modes.
 */
export function nftInterfaceName(name: string): string {
  const word = name.trim();
  return word.endsWith('+') ? `${word.slice(0, -1)}*` : name;
}

/**
 * Port groups, one per rule. Upstream writes one rule per port; `--compact-rules` puts a whole
 * list in one anonymous set, which, unlike iptables' multiport (15 slots), has no size limit.
 * Ranges are `first-last` in nft (`render/nft`), where upstream copies iptables' `first:last`,
 * which nft refuses.
 */
export function nftPortGroups(ports: readonly PortRange[], compact: boolean): PortRange[][] {
  return portGroups(ports, compact, Number.POSITIVE_INFINITY);
}

/**
 * One family's CIDRs, grouped per rule: one rule each, as upstream; with `--compact-rules`
 * merged (an interval set refuses overlapping elements) into one set, so that a list of any
 * length is one rule where iptables needs one rule per merged prefix.
 */
export function nftCidrGroups(cidrs: readonly Cidr[], family: IpFamily, compact: boolean): string[][] {
  const texts = cidrList(cidrs, compact)
    .filter((cidr) => cidr.family === family)
    .map((cidr) => cidr.text);
  if (!compact) return texts.map((text) => [text]);
  return texts.length > 0 ? [texts] : [];
}

/**
 * Whether the nat DNS jump and the raw prerouting jump are written. Upstream writes both
 * whenever DNS is on, even when only IPv6 servers are known and IPv6 is off: then no rule fills
 * the chains they jump to, the chains are not declared, and nft refuses the whole transaction
 * (spec §17.3). Here they are written only when a rule of an enabled family follows, which is
 * every case where upstream's transaction loads, so its text is unchanged there.
 */
export function writesDnsJumps(config: CaptureConfig, ipv6: boolean): boolean {
  if (config.dns.mode === 'all') return true;
  return dnsServers(config, 'ipv4').length > 0 || (ipv6 && dnsServers(config, 'ipv6').length > 0);
}

/**
 * Upstream's `--drop-invalid` in nftables matches TCP only (`meta l4proto tcp ct state
 * invalid`, spec §17.5), where the iptables mode drops INVALID packets of every protocol.
 * Rule text, so kept by default; `--strict` drops every protocol, as the iptables mode does.
 */
export function dropsInvalidTcpOnly(config: CaptureConfig): boolean {
  return !config.strict;
}

/**
 * In an `inet` table a rule without an address matches IPv6 too, so upstream captures a pod's
 * IPv6 traffic even when IPv6 is off (spec §17.4), where the iptables mode writes no IPv6 rule
 * at all. Rule text, so kept by default; with `--strict` and IPv6 off, every base chain the plan
 * uses first lets IPv6 pass (`meta nfproto ipv6 counter return`, inserted at index 0).
 */
export function passIpv6WhenOff(ctx: NftPlanContext): void {
  if (!ctx.config.strict || ctx.records.ipv6) return;
  const bases: readonly [ShortTable, NftChainName][] = [
    ['nat', 'prerouting'],
    ['nat', 'output'],
    ['mangle', 'prerouting'],
    ['mangle', 'output'],
    ['raw', 'prerouting'],
    ['raw', 'output'],
  ];
  for (const [table, chain] of bases) {
    if (ctx.records.holds(table, chain))
      ctx.records.insert(
        table,
        chain,
        0,
        [{ kind: 'nfproto', family: 'ipv6' }],
        { kind: 'return' },
        because('--strict', 'IPv6 is off: IPv6 traffic passes untouched'),
      );
  }
}
