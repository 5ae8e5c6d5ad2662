/**
 * A seeded generator of random upstream-valid configurations, each in two forms: upstream's
 * effective-configuration record (`--config`) and the same settings as flags + env vars, with
 * unusual but valid spellings: upper-case, zero-padded, fully expanded, IPv4-mapped and 4-in-6
 * IPv6 addresses, one-port and open port ranges, padded items, owner ranges, empty items and
 * duplicates. Every address's canonical text is computed here from the value drawn, through
 * the WHATWG URL parser (node's), not through the tool's own parser.
 *
 * Longer than ~200 lines: the address spellings and the flag table belong with the draws that use them.
 */
import type { CidrFacts, UpstreamRecord } from './upstream-model.js';

/** mulberry32: small, fast, good enough to spread cases. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Draw {
  constructor(readonly next: () => number) {}
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }
  list<T>(max: number, item: () => T): T[] {
    return Array.from({ length: this.int(0, max) }, item);
  }
}

/** The text Go's netip prints for an IPv6 value, from the URL parser's RFC 5952 serialisation. */
function canonicalIpv6(typed: string): string {
  const host = new URL(`http://[${typed}]/`).hostname.slice(1, -1);
  // Go prints IPv4-mapped addresses with a dotted tail; the URL serialiser in hex.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const [hi, lo] = [Number.parseInt(mapped[1] ?? '', 16), Number.parseInt(mapped[2] ?? '', 16)];
  return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

const dotted = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');

/** An IPv6 value as eight groups, spelled in one of the ways Go accepts. */
function spellIpv6(d: Draw, groups: readonly number[]): string {
  const upper = d.chance(0.3);
  const pad = d.chance(0.3);
  const hex = (g: number) => {
    const text = pad ? g.toString(16).padStart(4, '0') : g.toString(16);
    return upper ? text.toUpperCase() : text;
  };
  const tailV4 = d.chance(0.25) || (groups[5] === 0xffff && groups.slice(0, 5).every((g) => g === 0) && d.chance(0.6));
  const head = tailV4 ? groups.slice(0, 6) : [...groups];
  const tail = tailV4 ? dotted((((groups[6] ?? 0) << 16) | (groups[7] ?? 0)) >>> 0) : undefined;
  const fields = head.map(hex);
  // Compress one run of zero groups (any length ≥ 1) sometimes; fully expanded otherwise.
  const runs: [number, number][] = [];
  for (let i = 0; i < head.length; i++) {
    if (head[i] !== 0) continue;
    let j = i;
    while (j < head.length && head[j] === 0) j++;
    runs.push([i, j]);
    i = j;
  }
  let text: string;
  if (runs.length > 0 && d.chance(0.7)) {
    const [from, to] = d.pick(runs);
    const left = fields.slice(0, from).join(':');
    const right = [...fields.slice(to), ...(tail ? [tail] : [])].join(':');
    text = `${left}::${right}`;
  } else text = [...fields, ...(tail ? [tail] : [])].join(':');
  return text;
}

interface Address {
  readonly family: 'ipv4' | 'ipv6';
  readonly typed: string;
  readonly canonical: string;
  readonly loopback: boolean;
}

function ipv4(d: Draw): Address {
  const first = d.pick([10, 127, 192, 172, 0, 255, d.int(1, 254)]);
  const value = ((first << 24) | d.int(0, 0xffffff)) >>> 0;
  const text = dotted(value);
  return { family: 'ipv4', typed: text, canonical: text, loopback: first === 127 };
}

function ipv6(d: Draw): Address {
  const kind = d.pick(['random', 'sparse', 'loopback', 'mapped', 'mapped-loopback', 'compat', 'zero'] as const);
  const word = () => d.int(0, 0xffff);
  let groups: number[];
  switch (kind) {
    case 'random':
      groups = Array.from({ length: 8 }, word);
      break;
    case 'sparse':
      groups = Array.from({ length: 8 }, () => (d.chance(0.5) ? 0 : word()));
      break;
    case 'loopback':
      groups = [0, 0, 0, 0, 0, 0, 0, 1];
      break;
    case 'mapped':
    case 'mapped-loopback':
      groups = [0, 0, 0, 0, 0, 0xffff, kind === 'mapped' ? word() : 0x7f00 | d.int(0, 255), word()];
      break;
    case 'compat':
      groups = [0, 0, 0, 0, 0, 0, word(), word()];
      break;
    case 'zero':
      groups = [0, 0, 0, 0, 0, 0, 0, 0];
      break;
  }
  const typed = spellIpv6(d, groups);
  const canonical = canonicalIpv6(typed);
  // Go's IsLoopback: ::1, or (unmapped first) an IPv4 address in 127/8.
  const loopback =
    kind === 'loopback' ||
    (groups[5] === 0xffff && groups.slice(0, 5).every((g) => g === 0) && (groups[6] ?? 0) >> 8 === 127);
  return { family: 'ipv6', typed, canonical, loopback };
}

/** A CIDR item: typed text and what upstream makes of it. */
function cidr(d: Draw, cidrs: Map<string, CidrFacts>): string {
  const address = d.chance(0.5) ? ipv4(d) : ipv6(d);
  const length = d.int(0, address.family === 'ipv4' ? 32 : 128);
  const typed = `${address.typed}/${length}`;
  cidrs.set(typed, { family: address.family, canonical: `${address.canonical}/${length}`, loopback: address.loopback });
  return typed;
}

/** A port item as iptables reads it: a port, ranges (closed, one-port, open), padded. */
function portItem(d: Draw): string {
  const port = () => String(d.int(1, 65535));
  const core = d.pick([
    port,
    port,
    () => {
      const a = d.int(1, 65535);
      return `${a}:${d.int(a, 65535)}`;
    },
    () => {
      const p = port();
      return `${p}:${p}`;
    },
    () => `:${port()}`,
    () => `${port()}:`,
  ])();
  return d.chance(0.1) ? `${' '.repeat(d.int(1, 2))}${core}${d.chance(0.5) ? ' ' : ''}` : core;
}

/** Joins items with commas, sometimes with empty items and duplicates. */
function commaList(d: Draw, items: string[]): string {
  const all = [...items];
  if (all.length > 0 && d.chance(0.15)) all.push(d.pick(all));
  if (d.chance(0.1)) all.splice(d.int(0, all.length), 0, '');
  if (d.chance(0.05)) all.push('');
  return all.join(',');
}

const OWNER_NAMES = ['istio-proxy', 'app_user', 'java', 'www-data', 'nobody'];
const NICS = ['eth0', 'eth1', 'veth1234567890a', 'eth+', 'br-1a2b', 'vnet0.100', 'net1'];

/** Upstream copies list items untrimmed; iptables-restore splits on the spaces. */
const pad = (d: Draw, item: string) => (d.chance(0.08) ? ` ${item}${d.chance(0.5) ? ' ' : ''}` : item);

function ownerItem(d: Draw): string {
  return pad(d, ownerCore(d));
}

function ownerCore(d: Draw): string {
  return d.pick([
    () => String(d.int(0, 4294967294)),
    () => String(d.int(1000, 2000)),
    () => d.pick(OWNER_NAMES),
    () => {
      const a = d.int(0, 65535);
      return `${a}${d.pick(['-', ':'])}${d.int(a, 65535)}`;
    },
  ])();
}

function tunnelPort(d: Draw): string {
  const a = d.int(1, 65534);
  return d.chance(0.2) ? `${a}:${d.int(a + 1, 65535)}` : String(a);
}

export interface GeneratedCase {
  /** Upstream's record, fully resolved (the GID copied from the UID when it was left empty). */
  readonly record: UpstreamRecord;
  /** The same configuration as the tool's command line and environment. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cidrs: ReadonlyMap<string, CidrFacts>;
}

/** §2.2: record key → long flag, short flag, env var (if any). */
const FLAGS: Readonly<Record<string, readonly [string, string | undefined, string | undefined]>> = {
  PROXY_PORT: ['envoy-port', 'p', undefined],
  INBOUND_CAPTURE_PORT: ['inbound-capture-port', 'z', 'INBOUND_CAPTURE_PORT'],
  INBOUND_TUNNEL_PORT: ['inbound-tunnel-port', 'e', 'INBOUND_TUNNEL_PORT'],
  PROXY_UID: ['proxy-uid', 'u', 'PROXY_UID'],
  PROXY_GID: ['proxy-gid', 'g', 'PROXY_GID'],
  INBOUND_INTERCEPTION_MODE: ['istio-inbound-interception-mode', 'm', 'ISTIO_INBOUND_INTERCEPTION_MODE'],
  INBOUND_TPROXY_MARK: ['istio-inbound-tproxy-mark', 't', 'ISTIO_INBOUND_TPROXY_MARK'],
  INBOUND_TPROXY_ROUTE_TABLE: ['istio-inbound-tproxy-route-table', 'r', 'ISTIO_INBOUND_TPROXY_ROUTE_TABLE'],
  INBOUND_PORTS_INCLUDE: ['istio-inbound-ports', 'b', 'ISTIO_INBOUND_PORTS'],
  INBOUND_PORTS_EXCLUDE: ['istio-local-exclude-ports', 'd', 'ISTIO_LOCAL_EXCLUDE_PORTS'],
  OUTBOUND_OWNER_GROUPS_INCLUDE: ['outbound-owner-groups', undefined, 'ISTIO_OUTBOUND_OWNER_GROUPS'],
  OUTBOUND_OWNER_GROUPS_EXCLUDE: ['outbound-owner-groups-exclude', undefined, 'ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE'],
  OUTBOUND_PORTS_INCLUDE: ['istio-outbound-ports', 'q', 'ISTIO_OUTBOUND_PORTS'],
  OUTBOUND_PORTS_EXCLUDE: ['istio-local-outbound-ports-exclude', 'o', 'ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE'],
  OUTBOUND_IPRANGES_INCLUDE: ['istio-service-cidr', 'i', 'ISTIO_SERVICE_CIDR'],
  OUTBOUND_IPRANGES_EXCLUDE: ['istio-service-exclude-cidr', 'x', 'ISTIO_SERVICE_EXCLUDE_CIDR'],
  KUBE_VIRT_INTERFACES: ['kube-virt-interfaces', 'k', 'KUBE_VIRT_INTERFACES'],
  EXCLUDE_INTERFACES: ['istio-exclude-interfaces', 'c', 'ISTIO_EXCLUDE_INTERFACES'],
  REDIRECT_DNS: ['redirect-dns', undefined, 'REDIRECT_DNS'],
  DROP_INVALID: ['drop-invalid', undefined, 'DROP_INVALID'],
  CAPTURE_ALL_DNS: ['capture-all-dns', undefined, 'CAPTURE_ALL_DNS'],
  ENABLE_INBOUND_IPV6: ['enable-inbound-ipv6', undefined, undefined],
  DNS_SERVERS_V4: ['dns-servers-v4', undefined, undefined],
  DNS_SERVERS_V6: ['dns-servers-v6', undefined, undefined],
  HOST_IPV4_LOOPBACK_CIDR: ['host-ipv4-loopback-cidr', undefined, 'ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR'],
  IPTABLES_PROBE_PORT: ['iptables-probe-port', undefined, 'IPTABLES_PROBE_PORT'],
  PROBE_TIMEOUT: ['probe-timeout', undefined, 'PROBE_TIMEOUT'],
};

/** How a record value is typed on the command line: Go syntax for the two non-strings. */
function cliText(d: Draw, key: string, value: unknown): string {
  if (key === 'IPTABLES_PROBE_PORT') return d.pick([String(value), `0x${Number(value).toString(16)}`]);
  if (key === 'PROBE_TIMEOUT') return d.pick([`${Number(value) / 1e9}s`, `${Number(value) / 1e6}ms`]);
  return Array.isArray(value) ? value.join(',') : value === null ? '' : String(value);
}

/** The same value as a flag (`--long=v`, `-s v`, `-sv`) or its env var. */
function toCli(d: Draw, record: Record<string, unknown>, gidCopied: boolean) {
  const argv: string[] = ['--dry-run'];
  const env: Record<string, string> = {};
  for (const [key, [long, short, envName]] of Object.entries(FLAGS)) {
    if (key === 'PROXY_GID' && gidCopied) continue;
    const value = record[key];
    const text = cliText(d, key, value);
    if (envName && d.chance(0.4)) {
      env[envName] =
        typeof value === 'boolean' ? d.pick(value ? ['true', '1', 'T', 'TRUE'] : ['false', '0', 'f', 'False']) : text;
    } else if (typeof value === 'boolean') {
      argv.push(value && d.chance(0.5) ? `--${long}` : `--${long}=${value}`);
    } else if (short && d.chance(0.5) && text !== '' && !text.startsWith(' ')) {
      argv.push(...(d.chance(0.5) ? [`-${short}`, text] : [`-${short}${text}`]));
    } else argv.push(`--${long}=${text}`);
  }
  return { argv, env };
}

/** One random, upstream-valid configuration. */
export function generateCase(seed: number): GeneratedCase {
  const d = new Draw(random(seed));
  const cidrs = new Map<string, CidrFacts>();
  const ports = () =>
    commaList(
      d,
      d.list(4, () => portItem(d)),
    );
  const cidrList = () =>
    commaList(
      d,
      d.list(4, () => cidr(d, cidrs)),
    );
  const uid = d.chance(0.1) ? ',' : commaList(d, [ownerItem(d), ...d.list(2, () => ownerItem(d))]);
  const gidCopied = d.chance(0.4);
  const tproxy = d.chance(0.35);
  const dnsV4 = d.list(2, () => ipv4(d).typed);
  const dnsV6 = d.list(2, () => ipv6(d).typed);
  const ownerInclude = d.chance(0.75)
    ? '*'
    : commaList(
        d,
        d.list(3, () => ownerItem(d)),
      );
  const record: Record<string, string | boolean | number | readonly string[] | null> = {
    PROXY_PORT: String(d.int(1, 65535)),
    INBOUND_CAPTURE_PORT: String(d.int(1, 65535)),
    INBOUND_TUNNEL_PORT: tunnelPort(d),
    PROXY_UID: uid,
    PROXY_GID: gidCopied ? uid : commaList(d, [ownerItem(d), ...d.list(2, () => ownerItem(d))]),
    INBOUND_INTERCEPTION_MODE: tproxy ? 'TPROXY' : d.pick(['', 'REDIRECT']),
    INBOUND_TPROXY_MARK: String(d.int(1, 4294967295)),
    INBOUND_TPROXY_ROUTE_TABLE: String(d.pick([d.int(1, 252), d.int(256, 4294967295)])),
    INBOUND_PORTS_INCLUDE: d.pick(['', '*', '*', ports()]),
    INBOUND_PORTS_EXCLUDE: ports(),
    OUTBOUND_OWNER_GROUPS_INCLUDE: ownerInclude,
    OUTBOUND_OWNER_GROUPS_EXCLUDE: commaList(
      d,
      d.list(3, () => ownerItem(d)),
    ),
    OUTBOUND_PORTS_INCLUDE: ports(),
    OUTBOUND_PORTS_EXCLUDE: ports(),
    OUTBOUND_IPRANGES_INCLUDE: d.pick(['', '*', cidrList(), cidrList()]),
    OUTBOUND_IPRANGES_EXCLUDE: cidrList(),
    KUBE_VIRT_INTERFACES: commaList(
      d,
      d.list(2, () => pad(d, d.pick(NICS))),
    ),
    EXCLUDE_INTERFACES: commaList(
      d,
      d.list(2, () => pad(d, d.pick(NICS))),
    ),
    IPTABLES_PROBE_PORT: d.int(0, 65535),
    PROBE_TIMEOUT: d.int(0, 10) * 1e9,
    DRY_RUN: true,
    REDIRECT_DNS: d.chance(0.5),
    DROP_INVALID: d.chance(0.3),
    CAPTURE_ALL_DNS: d.chance(0.3),
    ENABLE_INBOUND_IPV6: d.chance(0.6),
    DNS_SERVERS_V4: dnsV4.length === 0 && d.chance(0.5) ? null : dnsV4,
    DNS_SERVERS_V6: dnsV6.length === 0 && d.chance(0.5) ? null : dnsV6,
    HOST_IPV4_LOOPBACK_CIDR: `127.${d.int(0, 255)}.${d.int(0, 255)}.${d.int(0, 255)}/${d.int(8, 32)}`,
  };
  const { argv, env } = toCli(d, record, gidCopied);
  return { record, argv, env, cidrs };
}
