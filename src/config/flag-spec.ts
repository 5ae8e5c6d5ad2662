/**
 * Every setting in one table: its flag (long and short name), environment variables, key in
 * Istio's effective-configuration record, default and help text. The yargs options, the
 * environment overlay, the config-file reader and `--help` are all generated from it.
 */

export type FlagKind = 'string' | 'boolean';

export interface FlagSpec {
  /** The long flag name, without `--`. */
  readonly long: string;
  readonly short?: string;
  readonly kind: FlagKind;
  /**
   * Environment variables that pre-load the setting. Later ones override earlier ones, as
   * upstream applies its "additional" variables (`ISTIO_META_DNS_CAPTURE`, …) last.
   */
  readonly env: readonly string[];
  /** Key in the effective-configuration JSON record (`--config`). */
  readonly configKey?: string;
  /** The value when nothing sets it; `undefined` means "derive it from the machine". */
  readonly default: string | boolean | undefined;
  readonly describe: string;
  /** Not an upstream flag: one of ours, documented as such. */
  readonly extension?: true;
}

function stringFlag<L extends string>(
  long: L,
  short: string | undefined,
  env: readonly string[],
  configKey: string | undefined,
  def: string | undefined,
  describe: string,
): FlagSpec & { readonly long: L } {
  return {
    long,
    ...(short ? { short } : {}),
    kind: 'string',
    env,
    ...(configKey ? { configKey } : {}),
    default: def,
    describe,
  };
}

function boolFlag<L extends string>(
  long: L,
  short: string | undefined,
  env: readonly string[],
  configKey: string | undefined,
  describe: string,
  def = false,
): FlagSpec & { readonly long: L } {
  return {
    long,
    ...(short ? { short } : {}),
    kind: 'boolean',
    env,
    ...(configKey ? { configKey } : {}),
    default: def,
    describe,
  };
}

function extension<S extends FlagSpec>(spec: S): S {
  return { ...spec, extension: true };
}

/** Flags in the order `--help` lists them: upstream's first, then this tool's own. */
export const FLAG_SPECS = [
  stringFlag(
    'envoy-port',
    'p',
    [],
    'PROXY_PORT',
    '15001',
    "Port outbound TCP is redirected to (the proxy's outbound listener). Upstream gives this flag no environment variable.",
  ),
  stringFlag(
    'inbound-capture-port',
    'z',
    ['INBOUND_CAPTURE_PORT'],
    'INBOUND_CAPTURE_PORT',
    '15006',
    "Port inbound TCP is redirected or TPROXY'd to.",
  ),
  stringFlag(
    'inbound-tunnel-port',
    'e',
    ['INBOUND_TUNNEL_PORT'],
    'INBOUND_TUNNEL_PORT',
    '15008',
    'HBONE tunnel port, exempt from inbound capture.',
  ),
  stringFlag(
    'proxy-uid',
    'u',
    ['PROXY_UID'],
    'PROXY_UID',
    '',
    'Comma list of UIDs whose traffic is not captured. Empty: the UID of ENVOY_USER (default istio-proxy), or 1337.',
  ),
  stringFlag(
    'proxy-gid',
    'g',
    ['PROXY_GID'],
    'PROXY_GID',
    '',
    'Comma list of GIDs whose traffic is not captured. Empty: the same as the UIDs.',
  ),
  stringFlag(
    'istio-inbound-interception-mode',
    'm',
    ['ISTIO_INBOUND_INTERCEPTION_MODE'],
    'INBOUND_INTERCEPTION_MODE',
    '',
    'Inbound capture mode: REDIRECT or TPROXY (empty means REDIRECT).',
  ),
  stringFlag(
    'istio-inbound-ports',
    'b',
    ['ISTIO_INBOUND_PORTS'],
    'INBOUND_PORTS_INCLUDE',
    '',
    'Inbound ports to capture: a comma list, "*" for all, empty for none.',
  ),
  stringFlag(
    'istio-local-exclude-ports',
    'd',
    ['ISTIO_LOCAL_EXCLUDE_PORTS'],
    'INBOUND_PORTS_EXCLUDE',
    '',
    'Inbound ports not to capture; used only when -b is "*".',
  ),
  stringFlag(
    'istio-exclude-interfaces',
    'c',
    ['ISTIO_EXCLUDE_INTERFACES'],
    'EXCLUDE_INTERFACES',
    '',
    'Comma list of interfaces whose traffic is never captured.',
  ),
  stringFlag(
    'istio-service-cidr',
    'i',
    ['ISTIO_SERVICE_CIDR'],
    'OUTBOUND_IPRANGES_INCLUDE',
    '',
    'Outbound destination CIDRs to capture: a comma list, "*" for all, empty for none.',
  ),
  stringFlag(
    'istio-service-exclude-cidr',
    'x',
    ['ISTIO_SERVICE_EXCLUDE_CIDR'],
    'OUTBOUND_IPRANGES_EXCLUDE',
    '',
    'Outbound destination CIDRs never captured.',
  ),
  stringFlag(
    'istio-outbound-ports',
    'q',
    ['ISTIO_OUTBOUND_PORTS'],
    'OUTBOUND_PORTS_INCLUDE',
    '',
    "Outbound TCP ports captured whatever the -i list says (excluded CIDRs, loopback and the proxy's own traffic still pass first).",
  ),
  stringFlag(
    'istio-local-outbound-ports-exclude',
    'o',
    ['ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE'],
    'OUTBOUND_PORTS_EXCLUDE',
    '',
    'Outbound ports (TCP and UDP) never captured.',
  ),
  stringFlag(
    'kube-virt-interfaces',
    'k',
    ['KUBE_VIRT_INTERFACES'],
    'KUBE_VIRT_INTERFACES',
    '',
    'Virtual interfaces (KubeVirt) whose incoming traffic is treated as outbound.',
  ),
  stringFlag(
    'istio-inbound-tproxy-mark',
    't',
    ['ISTIO_INBOUND_TPROXY_MARK'],
    'INBOUND_TPROXY_MARK',
    '1337',
    'Packet mark used in TPROXY mode (decimal).',
  ),
  stringFlag(
    'istio-inbound-tproxy-route-table',
    'r',
    ['ISTIO_INBOUND_TPROXY_ROUTE_TABLE'],
    'INBOUND_TPROXY_ROUTE_TABLE',
    '133',
    'Policy-routing table used in TPROXY mode (decimal).',
  ),
  boolFlag(
    'dry-run',
    'n',
    ['DRY_RUN'],
    'DRY_RUN',
    'Print the restore payloads and commands instead of running anything.',
  ),
  stringFlag(
    'iptables-probe-port',
    undefined,
    ['IPTABLES_PROBE_PORT'],
    'IPTABLES_PROBE_PORT',
    '15002',
    'Original destination port of the --run-validation probe.',
  ),
  stringFlag(
    'probe-timeout',
    undefined,
    ['PROBE_TIMEOUT'],
    'PROBE_TIMEOUT',
    '5s',
    'Timeout of the --run-validation probe (Go duration, e.g. 5s).',
  ),
  boolFlag(
    'skip-rule-apply',
    undefined,
    ['SKIP_RULE_APPLY'],
    'SKIP_RULE_APPLY',
    'Apply nothing (validation can still run).',
  ),
  boolFlag(
    'run-validation',
    undefined,
    ['RUN_VALIDATION'],
    'RUN_VALIDATION',
    'After applying, check that connections really are captured (exit 126 if not).',
  ),
  boolFlag(
    'redirect-dns',
    undefined,
    ['REDIRECT_DNS', 'ISTIO_META_DNS_CAPTURE'],
    'REDIRECT_DNS',
    'Capture DNS to the agent on port 15053.',
  ),
  boolFlag(
    'drop-invalid',
    undefined,
    ['DROP_INVALID', 'INVALID_DROP'],
    'DROP_INVALID',
    'Drop packets conntrack marks INVALID.',
  ),
  boolFlag(
    'dual-stack',
    undefined,
    ['DUAL_STACK', 'ISTIO_DUAL_STACK'],
    'DUAL_STACK',
    'Enable IPv6 rules when the pod has any IPv6 address, not only when its first address is IPv6.',
  ),
  boolFlag(
    'capture-all-dns',
    undefined,
    ['CAPTURE_ALL_DNS'],
    'CAPTURE_ALL_DNS',
    'With --redirect-dns, capture port 53 to every destination, not only the resolv.conf servers.',
  ),
  stringFlag(
    'network-namespace',
    undefined,
    ['NETWORK_NAMESPACE'],
    'NETWORK_NAMESPACE',
    '',
    'Network namespace to work in (/var/run/netns/NAME or /proc/PID/ns/net).',
  ),
  boolFlag(
    'cni-mode',
    undefined,
    ['CNI_MODE'],
    'CNI_MODE',
    'Running from a CNI agent on the node: use a namespace-scoped iptables lock.',
  ),
  boolFlag(
    'reconcile',
    undefined,
    ['RECONCILE'],
    'RECONCILE',
    'When existing rules drift from the plan, replace them (use --reconcile=false to refuse).',
    true,
  ),
  boolFlag(
    'cleanup-only',
    undefined,
    ['CLEANUP_ONLY'],
    'CLEANUP_ONLY',
    'Only remove what this configuration would create.',
  ),
  boolFlag(
    'force-apply',
    undefined,
    ['FORCE_APPLY'],
    'FORCE_APPLY',
    'Apply even when the existing rules already match.',
  ),
  boolFlag(
    'native-nftables',
    undefined,
    ['NATIVE_NFTABLES'],
    'NATIVE_NFTABLES',
    'Write native nftables rules (three inet tables, one `nft -f -` transaction) instead of iptables rules.',
  ),
  stringFlag(
    'force-iptables-binary',
    undefined,
    ['FORCE_IPTABLES_BINARY'],
    'FORCE_IPTABLES_BINARY',
    '',
    'Skip backend detection: "legacy" or "nft".',
  ),
  extension({
    ...boolFlag(
      'enable-inbound-ipv6',
      undefined,
      [],
      'ENABLE_INBOUND_IPV6',
      "Write IPv6 rules too. Unset: derived from the pod's addresses, as upstream does.",
    ),
    default: undefined,
  }),
  extension(
    stringFlag(
      'dns-servers-v4',
      undefined,
      [],
      'DNS_SERVERS_V4',
      undefined,
      'Comma list of IPv4 DNS servers to capture. Given (even empty), replaces resolv.conf.',
    ),
  ),
  extension(
    stringFlag(
      'dns-servers-v6',
      undefined,
      [],
      'DNS_SERVERS_V6',
      undefined,
      'Comma list of IPv6 DNS servers to capture. Given (even empty), replaces resolv.conf.',
    ),
  ),
  extension(
    stringFlag('resolv-conf', undefined, [], undefined, '/etc/resolv.conf', 'Where the DNS servers are read from.'),
  ),
  extension(
    stringFlag(
      'outbound-owner-groups',
      undefined,
      ['ISTIO_OUTBOUND_OWNER_GROUPS'],
      'OUTBOUND_OWNER_GROUPS_INCLUDE',
      '*',
      'Groups (names or GIDs) whose outbound traffic is captured; "*" for all.',
    ),
  ),
  extension(
    stringFlag(
      'outbound-owner-groups-exclude',
      undefined,
      ['ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE'],
      'OUTBOUND_OWNER_GROUPS_EXCLUDE',
      '',
      'Groups whose outbound traffic is not captured; used when --outbound-owner-groups is "*".',
    ),
  ),
  extension(
    stringFlag(
      'host-ipv4-loopback-cidr',
      undefined,
      ['ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR'],
      'HOST_IPV4_LOOPBACK_CIDR',
      '127.0.0.1/32',
      'IPv4 loopback destination CIDR, inside 127.0.0.0/8, prefix 8-32.',
    ),
  ),
  extension(
    boolFlag(
      'strict',
      undefined,
      ['ISTIO_IPTABLES_STRICT'],
      undefined,
      "Fix upstream's rule bugs: exempt the tunnel port from TPROXY capture, and DNS from the GID self-redirect (with --native-nftables also: drop invalid packets of every protocol, and let IPv6 pass when IPv6 is off). The output then differs from upstream's.",
    ),
  ),
  extension(
    boolFlag(
      'compact-rules',
      undefined,
      ['ISTIO_IPTABLES_COMPACT_RULES'],
      undefined,
      "Fewer rules, same effect: merge overlapping and adjacent CIDRs (-x, -i) per family, and group port lists (-b, -d, -o, -q) into multiport rules of up to 15 ports (with --native-nftables: one rule per list, with an anonymous set). The output then differs from upstream's.",
    ),
  ),
  extension(
    stringFlag(
      'host-ip',
      undefined,
      [],
      'HOST_IP',
      undefined,
      "The pod IP the validation probe uses. Unset: derived from the pod's addresses.",
    ),
  ),
] as const satisfies readonly FlagSpec[];
