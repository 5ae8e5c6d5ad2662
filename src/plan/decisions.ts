/**
 * The capture decisions both backends share: which addresses, owners, DNS servers and port
 * groups a rule is about. The iptables planner (`plan/*.ts`) and the nftables planner
 * (`plan/nft/*.ts`) ask these, so the two modes cannot disagree on what is captured; they
 * differ only in how a decision becomes rules (see `plan/nft/differences.ts`).
 */
import type { CaptureConfig } from '../config/capture-config.js';
import { FAMILY, type IpFamily } from '../model/family.js';
import { hostCidr, isLoopbackAddress, type Cidr, type IpAddress, type PortRange } from '../model/network.js';
import { groupPorts, mergePorts } from './compact.js';

/** The loopback destination CIDR of a family: configurable (verbatim) for IPv4, `::1/128` for IPv6. */
export function loopbackOf(config: CaptureConfig, family: IpFamily): Cidr {
  return family === 'ipv4' ? config.hostIPv4LoopbackCidr : FAMILY.ipv6.loopback;
}

/** The proxy's owner matches, UIDs first then GIDs, as upstream loops over them. */
export function proxyOwners(config: CaptureConfig): { kind: 'uid' | 'gid'; id: string }[] {
  return [
    ...config.proxy.uids.map((id) => ({ kind: 'uid' as const, id })),
    ...config.proxy.gids.map((id) => ({ kind: 'gid' as const, id })),
  ];
}

/**
 * Whether the include list names a loopback address (either family). Upstream then drops the
 * "app talking to itself over lo" RETURN for every owner, in both families.
 */
export function includesLoopback(config: CaptureConfig): boolean {
  const include = config.outbound.cidrs.include;
  return include !== 'all' && include.some((cidr) => isLoopbackAddress(cidr.address));
}

/** Whether DNS capture is on (any mode but off). */
export function capturesDns(config: CaptureConfig): boolean {
  return config.dns.mode !== 'off';
}

/**
 * Whether the proxy's self-redirect over lo exempts port 53 for this owner. Upstream exempts
 * it for UIDs only, never for GIDs (kept for byte parity); strict mode exempts it for both.
 */
export function selfRedirectExemptsDns(config: CaptureConfig, owner: 'uid' | 'gid'): boolean {
  return capturesDns(config) && (owner === 'uid' || config.strict);
}

/** The DNS servers of one family whose traffic is captured (none in "all" and "off" mode). */
export function dnsServers(config: CaptureConfig, family: IpFamily): readonly IpAddress[] {
  return config.dns.mode === 'servers' ? config.dns.servers.filter((s) => s.family === family) : [];
}

/** A DNS server as a host prefix: upstream appends `/32` or `/128` to the text as given. */
export function dnsHost(server: IpAddress): Cidr {
  return hostCidr(server);
}

/**
 * Ports as the rules use them: one group per port, as upstream writes them; with `compact`
 * merged, then grouped into at most `slots` slots per rule (a range takes two).
 */
export function portGroups(ports: readonly PortRange[], compact: boolean, slots: number): PortRange[][] {
  return compact ? groupPorts(mergePorts(ports), slots) : ports.map((port) => [port]);
}
