/**
 * nftables steps 1–5 and 17 of upstream's builder (spec §6): interface short-circuits, drop
 * invalid, the fixed nat chains, inbound capture and TPROXY marking. The decisions are the
 * iptables planner's; the word order inside each rule is upstream's nftables text.
 */
import { FAMILY } from '../../model/family.js';
import type { NftMatch } from '../../model/nftables.js';
import { formatPortRange, type PortRange } from '../../model/network.js';
import { because } from '../builder.js';
import { portsText } from '../compact.js';
import { proxyOwners } from '../decisions.js';
import { OUTBOUND_MARK } from '../inbound.js';
import type { NftPlanContext } from './context.js';
import { dropsInvalidTcpOnly, nftInterfaceName, nftPortGroups } from './differences.js';
import {
  ACCEPT,
  daddr,
  iif,
  jump,
  LO_IN,
  LO_OUT,
  mark,
  oif,
  owner,
  redirect,
  RETURN,
  saddr,
  TCP,
  tcpDport,
} from './matches.js';

/** Steps 1 and 2: excluded interfaces pass both ways; KubeVirt interfaces are inserted first. */
export function interfaceRules({ config, records }: NftPlanContext): void {
  const excluded = (nic: string) => because(`-c ${nic}`, `interface ${nic} is excluded from capture`);
  for (const nic of config.interfaces.exclude) {
    records.add('nat', 'prerouting', [iif(nftInterfaceName(nic))], RETURN, excluded(nic));
    records.add('nat', 'output', [oif(nftInterfaceName(nic))], RETURN, excluded(nic));
  }
  if (config.inbound.interception.mode === 'tproxy') {
    for (const nic of config.interfaces.exclude) {
      records.add('mangle', 'prerouting', [iif(nftInterfaceName(nic))], RETURN, excluded(nic));
      records.add('mangle', 'output', [oif(nftInterfaceName(nic))], RETURN, excluded(nic));
    }
  }
  for (const nic of config.interfaces.virtual)
    records.insert(
      'nat',
      'prerouting',
      0,
      [iif(nftInterfaceName(nic))],
      RETURN,
      because(`-k ${nic}`, `traffic from the VM on ${nic} is not inbound traffic`),
    );
}

/** Step 3. */
export function dropInvalidRules({ config, records }: NftPlanContext): void {
  if (!config.dropInvalid) return;
  const state: NftMatch = { kind: 'ctState', states: ['invalid'] };
  const origin = because('--drop-invalid', 'packets conntrack finds invalid are dropped');
  records.add('mangle', 'prerouting', dropsInvalidTcpOnly(config) ? [TCP, state] : [state], jump('istio-drop'), origin);
  records.add('mangle', 'istio-drop', [], { kind: 'drop' }, origin);
}

/** Step 4: the nat chains that always exist, even when nothing jumps to them. */
export function natRedirectChains({ config, records }: NftPlanContext): void {
  const tunnel = formatPortRange(config.inbound.tunnelPort);
  records.add(
    'nat',
    'istio-inbound',
    [TCP, tcpDport(config.inbound.tunnelPort)],
    RETURN,
    because(`-e ${tunnel}`, `the HBONE tunnel port ${tunnel} is never captured`),
  );
  records.add(
    'nat',
    'istio-redirect',
    [TCP],
    redirect(config.outbound.proxyPort),
    because(`-p ${config.outbound.proxyPort}`, "the proxy's outbound listener"),
  );
  records.add(
    'nat',
    'istio-in-redirect',
    [TCP],
    redirect(config.inbound.capturePort),
    because(`-z ${config.inbound.capturePort}`, "the proxy's inbound listener"),
  );
}

/** Step 5: REDIRECT captures in nat; TPROXY diverts in mangle and keeps the destination. */
export function inboundCapture(ctx: NftPlanContext): void {
  const { config, records } = ctx;
  const { ports, interception, capturePort, tunnelPort } = config.inbound;
  if (ports.kind === 'none') return;
  const groups = nftPortGroups(ports.kind === 'all' ? ports.except : ports.items, config.compactRules);
  const capturedBy = because(`-b ${ports.kind === 'all' ? '*' : portsText(ports.items)}`, 'inbound TCP is captured');
  const excluded = (group: readonly PortRange[]) =>
    because(`-d ${portsText(group)}`, 'inbound port excluded from capture');
  const included = (group: readonly PortRange[]) =>
    because(`-b ${portsText(group)}`, 'inbound TCP to this port is captured');
  const every = because('-b *', 'inbound TCP to every port is captured');
  if (interception.mode === 'tproxy') {
    const marks = because(`-m TPROXY -t ${interception.mark}`, 'TPROXY interception marks captured packets');
    records.add('mangle', 'istio-divert', [], { kind: 'setMark', mark: interception.mark }, marks);
    records.add('mangle', 'istio-divert', [], ACCEPT, marks);
    for (const family of ctx.families) {
      const tproxy = { kind: 'tproxy', family: family === 'ipv4' ? 'ip' : 'ip6', toPort: capturePort } as const;
      records.add(
        'mangle',
        'istio-tproxy',
        [TCP, daddr(family, ctx.loopback(family), true)],
        { ...tproxy, mark: interception.mark },
        because(`-m TPROXY -z ${capturePort}`, "the proxy's inbound listener, by TPROXY"),
      );
    }
    records.add('mangle', 'prerouting', [TCP], jump('istio-inbound'), capturedBy);
    // As in the iptables mode: upstream's tunnel-port exemption is in nat only, which TPROXY never reaches.
    if (config.strict) {
      const tunnel = formatPortRange(tunnelPort);
      const why = because(`--strict -e ${tunnel}`, `the HBONE tunnel port ${tunnel} is never captured`);
      records.add('mangle', 'istio-inbound', [TCP, tcpDport(tunnelPort)], RETURN, why);
    }
    const related: NftMatch = { kind: 'ctState', states: ['related', 'established'] };
    if (ports.kind === 'all') {
      for (const group of groups)
        records.add('mangle', 'istio-inbound', [TCP, tcpDport(group)], RETURN, excluded(group));
      records.add('mangle', 'istio-inbound', [TCP, related], jump('istio-divert'), every);
      records.add('mangle', 'istio-inbound', [TCP], jump('istio-tproxy'), every);
    } else {
      for (const group of groups) {
        records.add('mangle', 'istio-inbound', [TCP, related, tcpDport(group)], jump('istio-divert'), included(group));
        records.add('mangle', 'istio-inbound', [TCP, tcpDport(group)], jump('istio-tproxy'), included(group));
      }
    }
    return;
  }
  records.add('nat', 'prerouting', [TCP], jump('istio-inbound'), capturedBy);
  if (ports.kind === 'all') {
    for (const group of groups) records.add('nat', 'istio-inbound', [TCP, tcpDport(group)], RETURN, excluded(group));
    records.add('nat', 'istio-inbound', [TCP], jump('istio-in-redirect'), every);
  } else {
    for (const group of groups)
      records.add('nat', 'istio-inbound', [TCP, tcpDport(group)], jump('istio-in-redirect'), included(group));
  }
}

/**
 * Step 17: TPROXY marking, written whenever the mode is TPROXY, even with no inbound ports
 * (upstream fix #58175). The inserts use index 1 twice (IPv4, then IPv6), as upstream does.
 */
export function tproxyMarking(ctx: NftPlanContext): void {
  const { config, records } = ctx;
  const { interception } = config.inbound;
  if (interception.mode !== 'tproxy') return;
  const why = (text: string) => because(`-m TPROXY -t ${interception.mark}`, text);
  records.add(
    'mangle',
    'prerouting',
    [TCP, mark(interception.mark)],
    { kind: 'saveMark' },
    why('remembers the TPROXY mark on the connection'),
  );
  records.add(
    'mangle',
    'output',
    [LO_OUT, TCP, mark(interception.mark)],
    RETURN,
    why('already-marked traffic over lo'),
  );
  for (const o of proxyOwners(config)) {
    for (const family of ctx.families) {
      records.add(
        'mangle',
        'output',
        [LO_OUT, TCP, daddr(family, ctx.loopback(family), true), owner(o.kind, o.id)],
        { kind: 'setMark', mark: OUTBOUND_MARK },
        because(`-${o.kind === 'uid' ? 'u' : 'g'} ${o.id}`, 'marks the proxy talking to the app over lo'),
      );
    }
  }
  records.add(
    'mangle',
    'output',
    [TCP, { kind: 'ctMark', mark: interception.mark }],
    { kind: 'restoreMark' },
    why('replies of TPROXY connections carry its mark'),
  );
  records.insert('mangle', 'istio-inbound', 0, [TCP, mark(interception.mark)], RETURN, why('already-diverted packets'));
  for (const family of ctx.families)
    records.insert(
      'mangle',
      'istio-inbound',
      1,
      [LO_IN, TCP, saddr(family, FAMILY[family].passthroughSource.text)],
      RETURN,
      why("the proxy's inbound passthrough to the app over lo"),
    );
  records.insert(
    'mangle',
    'istio-inbound',
    2,
    [LO_IN, TCP, mark(OUTBOUND_MARK, true)],
    RETURN,
    why('traffic over lo not marked as the proxy calling the app'),
  );
}
