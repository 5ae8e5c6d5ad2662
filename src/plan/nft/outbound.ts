/**
 * nftables steps 6–11 and 13–16 (spec §6), all in nat `istio-output` (and the KubeVirt
 * inserts into nat `prerouting`). Where the iptables mode writes a rule into both families,
 * this writes one unqualified rule; per-family values give an IPv4 record, then its IPv6 twin.
 */
import { FAMILY } from '../../model/family.js';
import type { NftMatch } from '../../model/nftables.js';
import { because } from '../builder.js';
import { portsText } from '../compact.js';
import { port } from '../matches.js';
import { capturesDns, includesLoopback, proxyOwners, selfRedirectExemptsDns } from '../decisions.js';
import type { NftPlanContext } from './context.js';
import { nftCidrGroups, nftInterfaceName, nftPortGroups } from './differences.js';
import { daddr, iif, jump, LO_OUT, owner, RETURN, saddr, TCP, tcpDport, udpDport } from './matches.js';

const VM_TRAFFIC = "the VM's outbound traffic is captured";

/** Steps 6–8: the jump into istio-output, excluded ports (no `meta l4proto`), the passthrough source. */
export function outboundStart(ctx: NftPlanContext): void {
  const { config, records } = ctx;
  records.add('nat', 'output', [], jump('istio-output'), because('(always)', 'outbound traffic is examined'));
  for (const group of nftPortGroups(config.outbound.ports.exclude, config.compactRules)) {
    const origin = because(`-o ${portsText(group)}`, 'outbound port excluded from capture');
    records.add('nat', 'istio-output', [tcpDport(group)], RETURN, origin);
    records.add('nat', 'istio-output', [udpDport(group)], RETURN, origin);
  }
  for (const family of ctx.families) {
    const source = FAMILY[family].passthroughSource.text;
    records.add(
      'nat',
      'istio-output',
      [LO_OUT, saddr(family, source)],
      RETURN,
      because('(always)', `the proxy's inbound passthrough from ${source} passes`),
    );
  }
}

/** Steps 9 and 10: per proxy UID, then GID (see the iptables planner's proxyOwnerRules for why). */
export function proxyOwnerRules(ctx: NftPlanContext): void {
  const { config, records } = ctx;
  const dns = capturesDns(config);
  const tunnel = config.inbound.tunnelPort;
  for (const o of proxyOwners(config)) {
    const setting = `-${o.kind === 'uid' ? 'u' : 'g'} ${o.id}`;
    // Upstream's anonymous set `{ 53, TUN }`, written as a set even when the tunnel port is 53.
    const exempt: NftMatch = selfRedirectExemptsDns(config, o.kind)
      ? { kind: 'port', protocol: 'tcp', field: 'dport', ports: [port(53), tunnel], set: true, negated: true }
      : tcpDport(tunnel, true);
    for (const family of ctx.families) {
      records.add(
        'nat',
        'istio-output',
        [LO_OUT, TCP, daddr(family, ctx.loopback(family), true), exempt, owner(o.kind, o.id)],
        jump('istio-in-redirect'),
        because(setting, "the proxy calling the pod's own address is inbound traffic"),
      );
    }
    if (!includesLoopback(config)) {
      const notDns = dns ? [TCP, tcpDport(53, true)] : [];
      records.add(
        'nat',
        'istio-output',
        [LO_OUT, ...notDns, owner(o.kind, o.id, true)],
        RETURN,
        because(setting, 'the app talking to itself over lo passes'),
      );
    }
    records.add(
      'nat',
      'istio-output',
      [owner(o.kind, o.id)],
      RETURN,
      because(setting, "the proxy's own traffic passes"),
    );
  }
}

/** Step 11: "all except" returns per excluded group; "only" is one rule of negated matches. */
export function ownerGroupRules({ config, records }: NftPlanContext): void {
  const groups = config.outbound.ownerGroups;
  if (groups.kind === 'all') {
    for (const group of groups.except)
      records.add(
        'nat',
        'istio-output',
        [owner('gid', group)],
        RETURN,
        because(`--outbound-owner-groups-exclude ${group}`, `group ${group} is not captured`),
      );
  } else if (groups.kind === 'only') {
    // With no group at all this is a bare `counter return`: no outbound traffic is captured.
    records.add(
      'nat',
      'istio-output',
      groups.items.map((group) => owner('gid', group, true)),
      RETURN,
      because(`--outbound-owner-groups ${groups.items.join(',')}`, 'only these groups are captured'),
    );
  }
}

/** Steps 13–16: loopback destination, excluded CIDRs, included ports, included CIDRs. */
export function outboundEnd(ctx: NftPlanContext): void {
  const { config, records } = ctx;
  const compact = config.compactRules;
  for (const family of ctx.families)
    records.add(
      'nat',
      'istio-output',
      [daddr(family, ctx.loopback(family))],
      RETURN,
      family === 'ipv4'
        ? because(`--host-ipv4-loopback-cidr ${ctx.loopback(family)}`, 'loopback destinations pass')
        : because('(always)', 'loopback destinations pass'),
    );
  for (const family of ctx.families) {
    for (const group of nftCidrGroups(config.outbound.cidrs.exclude, family, compact))
      records.add(
        'nat',
        'istio-output',
        [daddr(family, group)],
        RETURN,
        because(`-x ${group.join(',')}`, `destination ${group.join(', ')} is excluded`),
      );
  }
  for (const group of nftPortGroups(config.outbound.ports.include, compact))
    records.add(
      'nat',
      'istio-output',
      [tcpDport(group)],
      jump('istio-redirect'),
      because(`-q ${portsText(group)}`, 'outbound TCP to this port is captured'),
    );
  const include = config.outbound.cidrs.include;
  const virtual = config.interfaces.virtual.map((nic) => [nic, nftInterfaceName(nic)] as const);
  // As in the iptables mode: for "*" the jump comes before the inserts; for a list, each CIDR's inserts before its jump.
  if (include === 'all') {
    records.add(
      'nat',
      'istio-output',
      [],
      jump('istio-redirect'),
      because('-i *', 'outbound TCP to any destination is captured'),
    );
    for (const [nic, name] of virtual)
      records.insert(
        'nat',
        'prerouting',
        0,
        [iif(name)],
        jump('istio-redirect'),
        because(`-k ${nic} -i *`, VM_TRAFFIC),
      );
    return;
  }
  for (const family of ctx.families) {
    for (const group of nftCidrGroups(include, family, compact)) {
      const cidrs = group.join(',');
      for (const [nic, name] of virtual)
        records.insert(
          'nat',
          'prerouting',
          0,
          [iif(name), daddr(family, group)],
          jump('istio-redirect'),
          because(`-k ${nic} -i ${cidrs}`, VM_TRAFFIC),
        );
      records.add(
        'nat',
        'istio-output',
        [daddr(family, group)],
        jump('istio-redirect'),
        because(`-i ${cidrs}`, `outbound TCP to ${group.join(', ')} is captured`),
      );
    }
  }
}
