/** IP families and the per-family constants the rules depend on. */

export type IpFamily = 'ipv4' | 'ipv6';

export const FAMILIES: readonly IpFamily[] = ['ipv4', 'ipv6'];

interface FamilyConstants {
  /**
   * Source address the proxy binds to when it forwards inbound passthrough traffic to the
   * app; traffic from it over lo must not be captured again.
   */
  readonly passthroughSource: string;
  /** Loopback destination for IPv6; IPv4's is configurable (`--host-ipv4-loopback-cidr`). */
  readonly loopback: string;
  /** Host-route suffix appended to a DNS server address. */
  readonly hostPrefixLength: 32 | 128;
  /** The iptables binary family prefix. */
  readonly iptables: 'iptables' | 'ip6tables';
  /** The catch-all destination of the TPROXY local route. */
  readonly anyAddress: string;
}

export const FAMILY: Readonly<Record<IpFamily, FamilyConstants>> = {
  ipv4: {
    passthroughSource: '127.0.0.6/32',
    loopback: '127.0.0.1/32',
    hostPrefixLength: 32,
    iptables: 'iptables',
    anyAddress: '0.0.0.0/0',
  },
  ipv6: {
    passthroughSource: '::6/128',
    loopback: '::1/128',
    hostPrefixLength: 128,
    iptables: 'ip6tables',
    anyAddress: '::/0',
  },
};
