/**
 * `explain --report`: the flows a reviewer of a pod's capture settings cares about, each
 * walked, with its outcome and deciding rule. The flows follow from the configuration: each
 * excluded CIDR, port and interface gets its own line, so that every exception is visible.
 */
import type { CaptureConfig } from '../config/capture-config.js';
import type { IpFamily } from '../model/family.js';
import { type Cidr, cidrOf, networkValue, parseIpAddress, type IpAddress } from '../model/network.js';
import { parseConnection, type ConnectionFlags } from './connection.js';
import { explainConnection, type RuleSource } from './explain.js';
import { describeOutcome, endpoint, type ListenerPorts } from './outcome.js';
import type { Walk } from './walk.js';

/** One line of the report: what the flow is, and its walk. */
export interface ReportLine {
  readonly flow: string;
  readonly walk: Walk;
}

/** Documentation addresses standing in for "some service", "a DNS server", "a peer". */
const SAMPLE: Readonly<
  Record<IpFamily, { service: string; dns: string; peer: string; pod: string; loopback: string }>
> = {
  ipv4: {
    service: '198.51.100.80',
    dns: '203.0.113.53',
    peer: '203.0.113.7',
    pod: '192.0.2.10',
    loopback: '127.0.0.1',
  },
  ipv6: {
    service: '2001:db8:80::80',
    dns: '2001:db8:53::53',
    peer: '2001:db8:7::7',
    pod: '2001:db8::10',
    loopback: '::1',
  },
};

const APP = { uid: '1000', gid: '1000' };

/** A host inside a CIDR: its first address after the network address (the network address itself for /32, /128). */
function hostIn(cidr: Cidr): string {
  const hostBits = (cidr.family === 'ipv4' ? 32 : 128) - cidr.prefixLength;
  const network = networkValue(cidr);
  return cidrOf(cidr.family, hostBits > 0 ? network + 1n : network, cidr.prefixLength).address.text;
}

/** The flows for one family, as explain's connection flags. */
function flows(config: CaptureConfig, family: IpFamily, pod: string): [string, ConnectionFlags][] {
  const s = SAMPLE[family];
  const at = (address: string, port: number) => endpoint(address, port);
  const include = config.outbound.cidrs.include;
  const included = include === 'all' ? undefined : include.find((c) => c.family === family);
  const service = included ? hostIn(included) : s.service;
  const dns =
    config.dns.mode === 'servers' ? (config.dns.servers.find((d) => d.family === family)?.text ?? s.dns) : s.dns;
  const out: [string, ConnectionFlags][] = [
    ['app → a service', { dst: at(service, 80), ...APP }],
    ...config.outbound.cidrs.exclude
      .filter((c) => c.family === family)
      .map((c): [string, ConnectionFlags] => [`app → excluded ${c.text}`, { dst: at(hostIn(c), 80), ...APP }]),
    ...config.outbound.ports.exclude.map((p): [string, ConnectionFlags] => [
      `app → excluded port ${p.first}`,
      { dst: at(service, p.first), ...APP },
    ]),
    ['app → localhost', { dst: at(s.loopback, 8080), ...APP }],
    ['app → its own pod IP', { dst: at(pod, 8080), ...APP }],
    ['app → DNS (tcp)', { protocol: 'tcp', dst: at(dns, 53), ...APP }],
    ['app → DNS (udp)', { protocol: 'udp', dst: at(dns, 53), ...APP }],
  ];
  const numeric = (ids: readonly string[]) => ids.find((id) => /^[0-9]+$/.test(id));
  const uid = numeric(config.proxy.uids);
  const gid = numeric(config.proxy.gids);
  if (uid !== undefined) {
    out.push([`proxy (uid ${uid}) → a service`, { dst: at(service, 80), uid, gid: gid ?? uid }]);
    out.push([`proxy (uid ${uid}) → its own pod IP`, { dst: at(pod, 8080), uid, gid: gid ?? uid }]);
    out.push([`proxy (uid ${uid}) → DNS (udp)`, { protocol: 'udp', dst: at(dns, 53), uid, gid: gid ?? uid }]);
  }
  if (gid !== undefined && gid !== uid)
    out.push([`gid ${gid} → a service`, { dst: at(service, 80), uid: '1000', gid }]);
  const inbound = (dstPort: number, extra: ConnectionFlags = {}): ConnectionFlags => ({
    direction: 'inbound',
    src: at(s.peer, 40000),
    dst: at(pod, dstPort),
    ...extra,
  });
  const ports = config.inbound.ports;
  const appPort = ports.kind === 'only' ? (ports.items[0]?.first ?? 8080) : 8080;
  out.push([`inbound → app port ${appPort}`, inbound(appPort)]);
  if (ports.kind === 'all')
    for (const p of ports.except) out.push([`inbound → excluded port ${p.first}`, inbound(p.first)]);
  const tunnel = config.inbound.tunnelPort.first;
  out.push([`inbound → tunnel port ${tunnel}`, inbound(tunnel)]);
  for (const nic of config.interfaces.virtual)
    out.push([
      `from -k ${nic} → a service`,
      { direction: 'inbound', src: at(s.peer, 40000), dst: at(service, 80), inInterface: nic },
    ]);
  for (const nic of config.interfaces.exclude) {
    out.push([`app → a service on -c ${nic}`, { dst: at(service, 80), outInterface: nic, ...APP }]);
    out.push([`inbound on -c ${nic} → app port ${appPort}`, inbound(appPort, { inInterface: nic })]);
  }
  return out;
}

/** Walks every flow that matters for the configuration, each family in turn. */
export function captureReport(config: CaptureConfig, source: RuleSource, own: readonly IpAddress[]): ReportLine[] {
  return config.families.flatMap((family) => {
    const pod =
      own.find((a) => a.family === family) ?? (parseIpAddress(SAMPLE[family].pod, { canonical: true }) as IpAddress);
    const addresses = own.some((a) => a.family === family) ? own : [...own, pod];
    return flows(config, family, pod.text).map(([flow, flags]) => ({
      flow: `${family === 'ipv6' ? '[ipv6] ' : ''}${flow}`,
      walk: explainConnection(source, parseConnection(flags, addresses)),
    }));
  });
}

/** The report as a table for a terminal. */
export function formatReport(lines: readonly ReportLine[], ports: ListenerPorts): string {
  const rows = lines.map(({ flow, walk }) => [
    flow,
    `${walk.outcome}${walk.toPort ? ` ${walk.toPort}` : ''}`,
    `${walk.decidedBy.table} ${walk.decidedBy.chain}: ${walk.decidedBy.rule}`,
    describeOutcome(walk, ports),
  ]);
  const header = ['flow', 'outcome', 'decided by', 'why'];
  const widths = [0, 1].map((i) => Math.max(header[i]?.length ?? 0, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (r: readonly string[]) =>
    `${(r[0] ?? '').padEnd(widths[0] ?? 0)}  ${(r[1] ?? '').padEnd(widths[1] ?? 0)}  ${r[2]}\n${' '.repeat((widths[0] ?? 0) + 2)}${' '.repeat((widths[1] ?? 0) + 2)}${r[3]}`;
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
