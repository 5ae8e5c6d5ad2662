/** IP families and the per-family constants the rules depend on. */
import type { Cidr } from './network.js';

export type IpFamily = 'ipv4' | 'ipv6';

export const FAMILIES: readonly IpFamily[] = ['ipv4', 'ipv6'];

interface FamilyConstants {
  /**
   * Source address the proxy binds to when it forwards inbound passthrough traffic to the
   * app; traffic from it over lo must not be captured again.
   */
  readonly passthroughSource: Cidr;
  /** Loopback destination for IPv6; IPv4's is configurable (`--host-ipv4-loopback-cidr`). */
  readonly loopback: Cidr;
  /** The iptables binary family prefix. */
  readonly iptables: 'iptables' | 'ip6tables';
  /** The catch-all destination of the TPROXY local route. */
  readonly anyAddress: string;
}

/** A host CIDR written out, so that no parsing runs at start-up. */
function host(family: IpFamily, text: string, value: bigint): Cidr {
  const prefixLength = family === 'ipv4' ? 32 : 128;
  return { family, address: { family, text, value }, prefixLength, text: `${text}/${prefixLength}` };
}

export const FAMILY: Readonly<Record<IpFamily, FamilyConstants>> = {
  ipv4: {
    passthroughSource: host('ipv4', '127.0.0.6', 0x7f000006n),
    loopback: host('ipv4', '127.0.0.1', 0x7f000001n),
    iptables: 'iptables',
    anyAddress: '0.0.0.0/0',
  },
  ipv6: {
    passthroughSource: host('ipv6', '::6', 6n),
    loopback: host('ipv6', '::1', 1n),
    iptables: 'ip6tables',
    anyAddress: '::/0',
  },
};
