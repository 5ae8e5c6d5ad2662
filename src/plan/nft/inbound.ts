/**
 * nftables steps 1–5 and 17 of upstream's builder (spec §6): interface short-circuits, drop
 * invalid, the fixed nat chains, inbound capture and TPROXY marking. The decisions are the
 * iptables planner's; the word order inside each rule is upstream's nftables text.
 */
import { FAMILY } from '../../model/family.js';
import type { NftMatch } from '../../model/nftables.js';
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
  const nics = config.interfaces.exclude.map(nftInterfaceName);
  for (const nic of nics) {
    records.add('nat', 'prerouting', [iif(nic)], RETURN);
    records.add('nat', 'output', [oif(nic)], RETURN);
  }
  if (config.inbound.interception.mode === 'tproxy') {
    for (const nic of nics) {
      records.add('mangle', 'prerouting', [iif(nic)], RETURN);
      records.add('mangle', 'output', [oif(nic)], RETURN);
    }
  }
  for (const nic of config.interfaces.virtual)
    records.insert('nat', 'prerouting', 0, [iif(nftInterfaceName(nic))], RETURN);
}

/** Step 3. */
export function dropInvalidRules({ config, records }: NftPlanContext): void {
  if (!config.dropInvalid) return;
  const state: NftMatch = { kind: 'ctState', states: ['invalid'] };
  records.add('mangle', 'prerouting', dropsInvalidTcpOnly(config) ? [TCP, state] : [state], jump('istio-drop'));
  records.add('mangle', 'istio-drop', [], { kind: 'drop' });
}

/** Step 4: the nat chains that always exist, even when nothing jumps to them. */
export function natRedirectChains({ config, records }: NftPlanContext): void {
  records.add('nat', 'istio-inbound', [TCP, tcpDport(config.inbound.tunnelPort)], RETURN);
  records.add('nat', 'istio-redirect', [TCP], redirect(config.outbound.proxyPort));
  records.add('nat', 'istio-in-redirect', [TCP], redirect(config.inbound.capturePort));
}

/** Step 5: REDIRECT captures in nat; TPROXY diverts in mangle and keeps the destination. */
export function inboundCapture(ctx: NftPlanContext): void {
  const { config, records } = ctx;
  const { ports, interception, capturePort, tunnelPort } = config.inbound;
  if (ports.kind === 'none') return;
  const groups = nftPortGroups(ports.kind === 'all' ? ports.except : ports.items, config.compactRules);
  if (interception.mode === 'tproxy') {
    records.add('mangle', 'istio-divert', [], { kind: 'setMark', mark: interception.mark });
    records.add('mangle', 'istio-divert', [], ACCEPT);
    for (const family of ctx.families) {
      const tproxy = { kind: 'tproxy', family: family === 'ipv4' ? 'ip' : 'ip6', toPort: capturePort } as const;
      records.add('mangle', 'istio-tproxy', [TCP, daddr(family, ctx.loopback(family), true)], {
        ...tproxy,
        mark: interception.mark,
      });
    }
    records.add('mangle', 'prerouting', [TCP], jump('istio-inbound'));
    // As in the iptables mode: upstream's tunnel-port exemption is in nat only, which TPROXY never reaches.
    if (config.strict) records.add('mangle', 'istio-inbound', [TCP, tcpDport(tunnelPort)], RETURN);
    const related: NftMatch = { kind: 'ctState', states: ['related', 'established'] };
    if (ports.kind === 'all') {
      for (const group of groups) records.add('mangle', 'istio-inbound', [TCP, tcpDport(group)], RETURN);
      records.add('mangle', 'istio-inbound', [TCP, related], jump('istio-divert'));
      records.add('mangle', 'istio-inbound', [TCP], jump('istio-tproxy'));
    } else {
      for (const group of groups) {
        records.add('mangle', 'istio-inbound', [TCP, related, tcpDport(group)], jump('istio-divert'));
        records.add('mangle', 'istio-inbound', [TCP, tcpDport(group)], jump('istio-tproxy'));
      }
    }
    return;
  }
  records.add('nat', 'prerouting', [TCP], jump('istio-inbound'));
  if (ports.kind === 'all') {
    for (const group of groups) records.add('nat', 'istio-inbound', [TCP, tcpDport(group)], RETURN);
    records.add('nat', 'istio-inbound', [TCP], jump('istio-in-redirect'));
  } else {
    for (const group of groups) records.add('nat', 'istio-inbound', [TCP, tcpDport(group)], jump('istio-in-redirect'));
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
  records.add('mangle', 'prerouting', [TCP, mark(interception.mark)], { kind: 'saveMark' });
  records.add('mangle', 'output', [LO_OUT, TCP, mark(interception.mark)], RETURN);
  for (const o of proxyOwners(config)) {
    for (const family of ctx.families) {
      records.add('mangle', 'output', [LO_OUT, TCP, daddr(family, ctx.loopback(family), true), owner(o.kind, o.id)], {
        kind: 'setMark',
        mark: OUTBOUND_MARK,
      });
    }
  }
  records.add('mangle', 'output', [TCP, { kind: 'ctMark', mark: interception.mark }], { kind: 'restoreMark' });
  records.insert('mangle', 'istio-inbound', 0, [TCP, mark(interception.mark)], RETURN);
  for (const family of ctx.families)
    records.insert(
      'mangle',
      'istio-inbound',
      1,
      [LO_IN, TCP, saddr(family, FAMILY[family].passthroughSource.text)],
      RETURN,
    );
  records.insert('mangle', 'istio-inbound', 2, [LO_IN, TCP, mark(OUTBOUND_MARK, true)], RETURN);
}
