/**
 * Every setting in one table: its flag (long and short name), environment variables, key in
 * Istio's effective-configuration record, default and help text. The yargs options, the
 * environment overlay, the config-file reader and `--help` are all generated from it.
 * Longer than ~200 lines because it is one table, an entry per flag: split, it would be two
 * places to look for a flag.
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

/** What every flag's entry says; `env` defaults to none. */
interface FlagFields<L extends string> {
  readonly long: L;
  readonly short?: string;
  readonly env?: readonly string[];
  readonly configKey?: string;
  readonly describe: string;
}

function stringFlag<const L extends string>(
  spec: FlagFields<L> & { readonly default: string | undefined },
): FlagSpec & { readonly long: L } {
  return {
    long: spec.long,
    ...(spec.short ? { short: spec.short } : {}),
    kind: 'string',
    env: spec.env ?? [],
    ...(spec.configKey ? { configKey: spec.configKey } : {}),
    default: spec.default,
    describe: spec.describe,
  };
}

/** A boolean flag; `default` is false unless given. */
function boolFlag<const L extends string>(
  spec: FlagFields<L> & { readonly default?: boolean },
): FlagSpec & { readonly long: L } {
  return {
    long: spec.long,
    ...(spec.short ? { short: spec.short } : {}),
    kind: 'boolean',
    env: spec.env ?? [],
    ...(spec.configKey ? { configKey: spec.configKey } : {}),
    default: spec.default ?? false,
    describe: spec.describe,
  };
}

function extension<S extends FlagSpec>(spec: S): S {
  return { ...spec, extension: true };
}

/** Flags in the order `--help` lists them: upstream's first, then this tool's own. */
export const FLAG_SPECS = [
  stringFlag({
    long: 'envoy-port',
    short: 'p',
    configKey: 'PROXY_PORT',
    default: '15001',
    describe:
      "Port outbound TCP is redirected to (the proxy's outbound listener). Upstream gives this flag no environment variable.",
  }),
  stringFlag({
    long: 'inbound-capture-port',
    short: 'z',
    env: ['INBOUND_CAPTURE_PORT'],
    configKey: 'INBOUND_CAPTURE_PORT',
    default: '15006',
    describe: "Port inbound TCP is redirected or TPROXY'd to.",
  }),
  stringFlag({
    long: 'inbound-tunnel-port',
    short: 'e',
    env: ['INBOUND_TUNNEL_PORT'],
    configKey: 'INBOUND_TUNNEL_PORT',
    default: '15008',
    describe: 'HBONE tunnel port, exempt from inbound capture.',
  }),
  stringFlag({
    long: 'proxy-uid',
    short: 'u',
    env: ['PROXY_UID'],
    configKey: 'PROXY_UID',
    default: '',
    describe:
      'Comma list of UIDs whose traffic is not captured. Empty: the UID of ENVOY_USER (default istio-proxy), or 1337.',
  }),
  stringFlag({
    long: 'proxy-gid',
    short: 'g',
    env: ['PROXY_GID'],
    configKey: 'PROXY_GID',
    default: '',
    describe: 'Comma list of GIDs whose traffic is not captured. Empty: the same as the UIDs.',
  }),
  stringFlag({
    long: 'istio-inbound-interception-mode',
    short: 'm',
    env: ['ISTIO_INBOUND_INTERCEPTION_MODE'],
    configKey: 'INBOUND_INTERCEPTION_MODE',
    default: '',
    describe: 'Inbound capture mode: REDIRECT or TPROXY (empty means REDIRECT).',
  }),
  stringFlag({
    long: 'istio-inbound-ports',
    short: 'b',
    env: ['ISTIO_INBOUND_PORTS'],
    configKey: 'INBOUND_PORTS_INCLUDE',
    default: '',
    describe: 'Inbound ports to capture: a comma list, "*" for all, empty for none.',
  }),
  stringFlag({
    long: 'istio-local-exclude-ports',
    short: 'd',
    env: ['ISTIO_LOCAL_EXCLUDE_PORTS'],
    configKey: 'INBOUND_PORTS_EXCLUDE',
    default: '',
    describe: 'Inbound ports not to capture; used only when -b is "*".',
  }),
  stringFlag({
    long: 'istio-exclude-interfaces',
    short: 'c',
    env: ['ISTIO_EXCLUDE_INTERFACES'],
    configKey: 'EXCLUDE_INTERFACES',
    default: '',
    describe: 'Comma list of interfaces whose traffic is never captured.',
  }),
  stringFlag({
    long: 'istio-service-cidr',
    short: 'i',
    env: ['ISTIO_SERVICE_CIDR'],
    configKey: 'OUTBOUND_IPRANGES_INCLUDE',
    default: '',
    describe: 'Outbound destination CIDRs to capture: a comma list, "*" for all, empty for none.',
  }),
  stringFlag({
    long: 'istio-service-exclude-cidr',
    short: 'x',
    env: ['ISTIO_SERVICE_EXCLUDE_CIDR'],
    configKey: 'OUTBOUND_IPRANGES_EXCLUDE',
    default: '',
    describe: 'Outbound destination CIDRs never captured.',
  }),
  stringFlag({
    long: 'istio-outbound-ports',
    short: 'q',
    env: ['ISTIO_OUTBOUND_PORTS'],
    configKey: 'OUTBOUND_PORTS_INCLUDE',
    default: '',
    describe:
      "Outbound TCP ports captured whatever the -i list says (excluded CIDRs, loopback and the proxy's own traffic still pass first).",
  }),
  stringFlag({
    long: 'istio-local-outbound-ports-exclude',
    short: 'o',
    env: ['ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE'],
    configKey: 'OUTBOUND_PORTS_EXCLUDE',
    default: '',
    describe: 'Outbound ports (TCP and UDP) never captured.',
  }),
  stringFlag({
    long: 'kube-virt-interfaces',
    short: 'k',
    env: ['KUBE_VIRT_INTERFACES'],
    configKey: 'KUBE_VIRT_INTERFACES',
    default: '',
    describe: 'Virtual interfaces (KubeVirt) whose incoming traffic is treated as outbound.',
  }),
  stringFlag({
    long: 'istio-inbound-tproxy-mark',
    short: 't',
    env: ['ISTIO_INBOUND_TPROXY_MARK'],
    configKey: 'INBOUND_TPROXY_MARK',
    default: '1337',
    describe: 'Packet mark used in TPROXY mode (decimal).',
  }),
  stringFlag({
    long: 'istio-inbound-tproxy-route-table',
    short: 'r',
    env: ['ISTIO_INBOUND_TPROXY_ROUTE_TABLE'],
    configKey: 'INBOUND_TPROXY_ROUTE_TABLE',
    default: '133',
    describe: 'Policy-routing table used in TPROXY mode (decimal).',
  }),
  boolFlag({
    long: 'dry-run',
    short: 'n',
    env: ['DRY_RUN'],
    configKey: 'DRY_RUN',
    describe: 'Print the restore payloads and commands instead of running anything.',
  }),
  stringFlag({
    long: 'iptables-probe-port',
    env: ['IPTABLES_PROBE_PORT'],
    configKey: 'IPTABLES_PROBE_PORT',
    default: '15002',
    describe: 'Original destination port of the --run-validation probe.',
  }),
  stringFlag({
    long: 'probe-timeout',
    env: ['PROBE_TIMEOUT'],
    configKey: 'PROBE_TIMEOUT',
    default: '5s',
    describe: 'Timeout of the --run-validation probe (Go duration, e.g. 5s).',
  }),
  boolFlag({
    long: 'skip-rule-apply',
    env: ['SKIP_RULE_APPLY'],
    configKey: 'SKIP_RULE_APPLY',
    describe: 'Apply nothing (validation can still run).',
  }),
  boolFlag({
    long: 'run-validation',
    env: ['RUN_VALIDATION'],
    configKey: 'RUN_VALIDATION',
    describe: 'After applying, check that connections really are captured (exit 126 if not).',
  }),
  boolFlag({
    long: 'redirect-dns',
    env: ['REDIRECT_DNS', 'ISTIO_META_DNS_CAPTURE'],
    configKey: 'REDIRECT_DNS',
    describe: 'Capture DNS to the agent on port 15053.',
  }),
  boolFlag({
    long: 'drop-invalid',
    env: ['DROP_INVALID', 'INVALID_DROP'],
    configKey: 'DROP_INVALID',
    describe: 'Drop packets conntrack marks INVALID.',
  }),
  boolFlag({
    long: 'dual-stack',
    env: ['DUAL_STACK', 'ISTIO_DUAL_STACK'],
    configKey: 'DUAL_STACK',
    describe: 'Enable IPv6 rules when the pod has any IPv6 address, not only when its first address is IPv6.',
  }),
  boolFlag({
    long: 'capture-all-dns',
    env: ['CAPTURE_ALL_DNS'],
    configKey: 'CAPTURE_ALL_DNS',
    describe: 'With --redirect-dns, capture port 53 to every destination, not only the resolv.conf servers.',
  }),
  stringFlag({
    long: 'network-namespace',
    env: ['NETWORK_NAMESPACE'],
    configKey: 'NETWORK_NAMESPACE',
    default: '',
    describe: 'Network namespace to work in (/var/run/netns/NAME or /proc/PID/ns/net).',
  }),
  boolFlag({
    long: 'cni-mode',
    env: ['CNI_MODE'],
    configKey: 'CNI_MODE',
    describe:
      "Upstream's CNI-agent switch, accepted for compatibility. Every run already behaves so: it takes its network namespace's own lock, and legacy's xtables lock is per namespace from outside.",
  }),
  boolFlag({
    long: 'reconcile',
    env: ['RECONCILE'],
    configKey: 'RECONCILE',
    default: true,
    describe: 'When existing rules drift from the plan, replace them (use --reconcile=false to refuse).',
  }),
  boolFlag({
    long: 'cleanup-only',
    env: ['CLEANUP_ONLY'],
    configKey: 'CLEANUP_ONLY',
    describe: 'Only remove what this configuration would create.',
  }),
  boolFlag({
    long: 'force-apply',
    env: ['FORCE_APPLY'],
    configKey: 'FORCE_APPLY',
    describe: 'Apply even when the existing rules already match.',
  }),
  boolFlag({
    long: 'native-nftables',
    env: ['NATIVE_NFTABLES'],
    configKey: 'NATIVE_NFTABLES',
    describe: 'Write native nftables rules (three inet tables, one `nft -f -` transaction) instead of iptables rules.',
  }),
  stringFlag({
    long: 'force-iptables-binary',
    env: ['FORCE_IPTABLES_BINARY'],
    configKey: 'FORCE_IPTABLES_BINARY',
    default: '',
    describe: 'Skip backend detection: "legacy" or "nft".',
  }),
  boolFlag({
    long: 'iptables-trace-logging',
    env: ['IPTABLES_TRACE_LOGGING'],
    configKey: 'IPTABLES_TRACE_LOGGING',
    describe:
      "Before each rule Istio 1.12-1.24 named (the jumps into ISTIO_INBOUND and ISTIO_OUTPUT, inbound port rules, the inbound redirect, interface rules), a twin that logs the packet to NFLOG group 1337 with the rule's kind as prefix.",
  }),
  boolFlag({
    long: 'restore-format',
    short: 'f',
    env: ['RESTORE_FORMAT'],
    configKey: 'RESTORE_FORMAT',
    default: true,
    describe:
      'Write the rules with iptables-restore. =false: one iptables command per chain and rule, as Istio 1.20 did (rolled back on failure); --dry-run then prints those commands.',
  }),
  stringFlag({
    long: 'iptables-version',
    env: ['IPTABLES_VERSION'],
    configKey: 'IPTABLES_VERSION',
    default: '',
    describe:
      'What `iptables --version` prints, e.g. "iptables v1.8.9 (nf_tables)": must hold a version vN.N; nf_tables in it means the nft backend, else legacy. Skips backend detection.',
  }),
  stringFlag({
    long: 'vklog',
    env: ['VKLOG'],
    configKey: 'VKLOG',
    default: '0',
    describe: "pilot-agent's klog verbosity (a whole number): accepted and ignored, as klog logs nothing here.",
  }),
  extension({
    ...boolFlag({
      long: 'enable-inbound-ipv6',
      configKey: 'ENABLE_INBOUND_IPV6',
      describe: "Write IPv6 rules too. Unset: derived from the pod's addresses, as upstream does.",
    }),
    default: undefined,
  }),
  extension(
    stringFlag({
      long: 'dns-servers-v4',
      configKey: 'DNS_SERVERS_V4',
      default: undefined,
      describe: 'Comma list of IPv4 DNS servers to capture. Given (even empty), replaces resolv.conf.',
    }),
  ),
  extension(
    stringFlag({
      long: 'dns-servers-v6',
      configKey: 'DNS_SERVERS_V6',
      default: undefined,
      describe: 'Comma list of IPv6 DNS servers to capture. Given (even empty), replaces resolv.conf.',
    }),
  ),
  extension(
    stringFlag({ long: 'resolv-conf', default: '/etc/resolv.conf', describe: 'Where the DNS servers are read from.' }),
  ),
  extension(
    stringFlag({
      long: 'outbound-owner-groups',
      env: ['ISTIO_OUTBOUND_OWNER_GROUPS'],
      configKey: 'OUTBOUND_OWNER_GROUPS_INCLUDE',
      default: '*',
      describe: 'Groups (names or GIDs) whose outbound traffic is captured; "*" for all.',
    }),
  ),
  extension(
    stringFlag({
      long: 'outbound-owner-groups-exclude',
      env: ['ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE'],
      configKey: 'OUTBOUND_OWNER_GROUPS_EXCLUDE',
      default: '',
      describe: 'Groups whose outbound traffic is not captured; used when --outbound-owner-groups is "*".',
    }),
  ),
  extension(
    stringFlag({
      long: 'host-ipv4-loopback-cidr',
      env: ['ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR'],
      configKey: 'HOST_IPV4_LOOPBACK_CIDR',
      default: '127.0.0.1/32',
      describe: 'IPv4 loopback destination CIDR, inside 127.0.0.0/8, prefix 8-32.',
    }),
  ),
  extension(
    boolFlag({
      long: 'strict',
      env: ['ISTIO_IPTABLES_STRICT'],
      describe:
        "Fix upstream's rule bugs: exempt the tunnel port from TPROXY capture, and DNS from the GID self-redirect (with --native-nftables also: drop invalid packets of every protocol, and let IPv6 pass when IPv6 is off). The output then differs from upstream's.",
    }),
  ),
  extension(
    boolFlag({
      long: 'compact-rules',
      env: ['ISTIO_IPTABLES_COMPACT_RULES'],
      describe:
        "Fewer rules, same effect: merge overlapping and adjacent CIDRs (-x, -i) per family, and group port lists (-b, -d, -o, -q) into multiport rules of up to 15 ports (with --native-nftables: one rule per list, with an anonymous set). The output then differs from upstream's.",
    }),
  ),
  extension(
    boolFlag({
      long: 'migrate',
      env: ['ISTIO_IPTABLES_MIGRATE'],
      configKey: 'MIGRATE',
      describe:
        'When rules of ours are live in the other iptables backend, remove that copy in the same run (without it, the run stops and changes nothing). --cleanup-only always removes every copy.',
    }),
  ),
  extension(
    stringFlag({
      long: 'lock-timeout',
      env: ['ISTIO_IPTABLES_LOCK_TIMEOUT'],
      configKey: 'LOCK_TIMEOUT',
      default: '30s',
      describe:
        "How long a run waits for its network namespace's lock, and legacy iptables for its xtables lock (Go duration). 0: do not wait.",
    }),
  ),
  extension(
    stringFlag({
      long: 'host-ip',
      configKey: 'HOST_IP',
      default: undefined,
      describe: "The pod IP the validation probe uses. Unset: derived from the pod's addresses.",
    }),
  ),
] as const satisfies readonly FlagSpec[];
