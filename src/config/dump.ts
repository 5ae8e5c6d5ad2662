/**
 * The effective configuration as upstream logs it at start ("Istio iptables variables:"), one
 * `KEY=value` per line in upstream's order, then this tool's other settings; after a tab, where
 * each value came from. It is what anyone reads first in `kubectl logs … -c istio-init`.
 */
import { FLAG_SPECS } from './flag-spec.js';
import type { Origin, RawSettings, SettingName } from './settings.js';

/** Upstream's keys, in its order (Istio 1.20's dump), and the settings they show. */
const UPSTREAM_ORDER: readonly (readonly [string, SettingName])[] = [
  ['IPTABLES_VERSION', 'iptables-version'],
  ['PROXY_PORT', 'envoy-port'],
  ['PROXY_INBOUND_CAPTURE_PORT', 'inbound-capture-port'],
  ['PROXY_TUNNEL_PORT', 'inbound-tunnel-port'],
  ['PROXY_UID', 'proxy-uid'],
  ['PROXY_GID', 'proxy-gid'],
  ['INBOUND_INTERCEPTION_MODE', 'istio-inbound-interception-mode'],
  ['INBOUND_TPROXY_MARK', 'istio-inbound-tproxy-mark'],
  ['INBOUND_TPROXY_ROUTE_TABLE', 'istio-inbound-tproxy-route-table'],
  ['INBOUND_PORTS_INCLUDE', 'istio-inbound-ports'],
  ['INBOUND_PORTS_EXCLUDE', 'istio-local-exclude-ports'],
  ['OUTBOUND_OWNER_GROUPS_INCLUDE', 'outbound-owner-groups'],
  ['OUTBOUND_OWNER_GROUPS_EXCLUDE', 'outbound-owner-groups-exclude'],
  ['OUTBOUND_IP_RANGES_INCLUDE', 'istio-service-cidr'],
  ['OUTBOUND_IP_RANGES_EXCLUDE', 'istio-service-exclude-cidr'],
  ['OUTBOUND_PORTS_INCLUDE', 'istio-outbound-ports'],
  ['OUTBOUND_PORTS_EXCLUDE', 'istio-local-outbound-ports-exclude'],
  ['KUBE_VIRT_INTERFACES', 'kube-virt-interfaces'],
  ['ENABLE_INBOUND_IPV6', 'enable-inbound-ipv6'],
  ['DUAL_STACK', 'dual-stack'],
  ['DNS_CAPTURE', 'redirect-dns'],
  ['DROP_INVALID', 'drop-invalid'],
  ['CAPTURE_ALL_DNS', 'capture-all-dns'],
  // DNS_SERVERS (both families) comes here; see below.
  ['NETWORK_NAMESPACE', 'network-namespace'],
  ['CNI_MODE', 'cni-mode'],
  ['EXCLUDE_INTERFACES', 'istio-exclude-interfaces'],
];

function text(value: RawSettings[SettingName]['value']): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(',') : String(value);
}

function from(origin: Origin): string {
  switch (origin.kind) {
    case 'flag':
      return `flag ${origin.name}`;
    case 'env':
      return `env ${origin.name}`;
    case 'config':
      return `config file ${origin.name}`;
    case 'derived':
      return `derived: ${origin.name}`;
    case 'default':
      return 'default';
    default: {
      const never: never = origin;
      return never;
    }
  }
}

/** The dump's lines (without its title). */
export function configurationLines(settings: RawSettings): string[] {
  const line = (key: string, name: SettingName, shown = text(settings[name].value)) =>
    `${key}=${shown}\t(${from(settings[name].origin)})`;
  const lines = UPSTREAM_ORDER.map(([key, name]) =>
    // Upstream shows the mode it uses: REDIRECT when none is given.
    name === 'istio-inbound-interception-mode'
      ? line(key, name, text(settings[name].value) || 'REDIRECT')
      : line(key, name),
  );
  // Upstream prints its two server lists with Go's %s: [10.96.0.10],[].
  const servers = (name: 'dns-servers-v4' | 'dns-servers-v6') => {
    const value = settings[name].value;
    return `[${(Array.isArray(value) ? value : text(value).split(',').filter(Boolean)).join(' ')}]`;
  };
  const v4 = settings['dns-servers-v4'].origin;
  lines.splice(
    UPSTREAM_ORDER.findIndex(([key]) => key === 'NETWORK_NAMESPACE'),
    0,
    `DNS_SERVERS=${servers('dns-servers-v4')},${servers('dns-servers-v6')}\t(${from(v4)})`,
  );
  const shown = new Set<string>([...UPSTREAM_ORDER.map(([, name]) => name), 'dns-servers-v4', 'dns-servers-v6']);
  for (const spec of FLAG_SPECS) {
    if (shown.has(spec.long)) continue;
    const key = 'configKey' in spec && spec.configKey ? spec.configKey : spec.long.toUpperCase().replace(/-/g, '_');
    lines.push(line(key, spec.long));
  }
  return lines;
}

/** The whole message: a title line, then the settings. */
export function configurationDump(settings: RawSettings): string {
  return ['Istio iptables variables:', ...configurationLines(settings)].join('\n');
}
