/**
 * Outbound capture (upstream steps 6–11 and 13–16), all in nat ISTIO_OUTPUT.
 * Longer than ~200 lines: each rule carries the setting that produced it (for `explain`).
 */
import { FAMILY, FAMILIES } from '../model/family.js';
import type { Match } from '../model/netfilter.js';
import { append, because, insert, traced } from './builder.js';
import { cidrList, destinationPortMatches, portsOf, portsText } from './compact.js';
import { proxyOwners, type PlanContext } from './context.js';
import { capturesDns, includesLoopback, selfRedirectExemptsDns } from './decisions.js';
import { dport, dst, gidOwner, inIf, jump, LO_OUT, ownerOf, port, RETURN, src, TCP, UDP } from './matches.js';

const DNS_PORT = port(53);

export function outboundJump({ rules }: PlanContext): void {
  rules.both(
    traced(
      'JumpOutbound',
      append('nat', 'OUTPUT', [], jump('ISTIO_OUTPUT'), because('(always)', 'outbound traffic is examined')),
    ),
  );
}

/** Excluded outbound ports pass for TCP and UDP alike. */
export function excludeOutboundPorts({ config, rules }: PlanContext): void {
  for (const p of destinationPortMatches(config.outbound.ports.exclude, config.compactRules)) {
    const origin = because(`-o ${portsText(portsOf(p))}`, 'outbound port excluded from capture');
    rules.both(append('nat', 'ISTIO_OUTPUT', [TCP, p], RETURN, origin));
    rules.both(append('nat', 'ISTIO_OUTPUT', [UDP, p], RETURN, origin));
  }
}

/** The proxy forwards inbound passthrough traffic to the app from 127.0.0.6 / ::6: let it pass. */
export function passthroughSource({ rules }: PlanContext): void {
  rules.both((family) =>
    append(
      'nat',
      'ISTIO_OUTPUT',
      [LO_OUT, src(FAMILY[family].passthroughSource)],
      RETURN,
      because('(always)', `the proxy's inbound passthrough from ${FAMILY[family].passthroughSource.text} passes`),
    ),
  );
}

/**
 * Per proxy UID, then per GID: the proxy calling the pod's own IP over lo is inbound traffic
 * (redirect it to the inbound listener); the app talking to itself over lo passes; the
 * proxy's other traffic passes. With DNS capture, port 53 is exempted — but upstream does so
 * only in the UID self-redirect, never in the GID one (kept for byte parity unless strict).
 */
export function proxyOwnerRules(ctx: PlanContext): void {
  const { config, rules } = ctx;
  const dns = capturesDns(config);
  const tunnel = config.inbound.tunnelPort;
  for (const owner of proxyOwners(config)) {
    const setting = `-${owner.kind === 'uid' ? 'u' : 'g'} ${owner.id}`;
    const exemptPorts: Match = selfRedirectExemptsDns(config, owner.kind)
      ? { kind: 'multiport', ports: [DNS_PORT, tunnel], negated: true }
      : dport(tunnel, true);
    rules.both((family) =>
      append(
        'nat',
        'ISTIO_OUTPUT',
        [LO_OUT, dst(ctx.loopback(family), true), TCP, exemptPorts, ownerOf(owner.kind, owner.id)],
        jump('ISTIO_IN_REDIRECT'),
        because(setting, "the proxy calling the pod's own address is inbound traffic"),
      ),
    );
    if (!includesLoopback(config)) {
      const notDns: Match[] = dns ? [TCP, dport(DNS_PORT, true)] : [];
      rules.both(
        append(
          'nat',
          'ISTIO_OUTPUT',
          [LO_OUT, ...notDns, ownerOf(owner.kind, owner.id, true)],
          RETURN,
          because(setting, 'the app talking to itself over lo passes'),
        ),
      );
    }
    rules.both(
      append(
        'nat',
        'ISTIO_OUTPUT',
        [ownerOf(owner.kind, owner.id)],
        RETURN,
        because(setting, "the proxy's own traffic passes"),
      ),
    );
  }
}

/** Owner groups: "all except" returns per excluded group; "only" is one rule of negated matches. */
export function ownerGroupRules({ config, rules }: PlanContext): void {
  const groups = config.outbound.ownerGroups;
  if (groups.kind === 'all') {
    for (const group of groups.except)
      rules.both(
        append(
          'nat',
          'ISTIO_OUTPUT',
          [gidOwner(group)],
          RETURN,
          because(`--outbound-owner-groups-exclude ${group}`, `group ${group} is not captured`),
        ),
      );
  } else if (groups.kind === 'only') {
    // With no group at all this is a bare RETURN: no outbound traffic is captured.
    rules.both(
      append(
        'nat',
        'ISTIO_OUTPUT',
        groups.items.map((group) => gidOwner(group, true)),
        RETURN,
        because(`--outbound-owner-groups ${groups.items.join(',')}`, 'only these groups are captured'),
      ),
    );
  }
}

export function loopbackDestination(ctx: PlanContext): void {
  ctx.rules.both((family) =>
    append(
      'nat',
      'ISTIO_OUTPUT',
      [dst(ctx.loopback(family))],
      RETURN,
      family === 'ipv4'
        ? because(`--host-ipv4-loopback-cidr ${ctx.loopback(family).text}`, 'loopback destinations pass')
        : because('(always)', 'loopback destinations pass'),
    ),
  );
}

export function excludeOutboundCidrs({ config, rules }: PlanContext): void {
  const exclude = cidrList(config.outbound.cidrs.exclude, config.compactRules);
  for (const family of FAMILIES) {
    for (const cidr of exclude.filter((c) => c.family === family)) {
      rules.only(
        family,
        append(
          'nat',
          'ISTIO_OUTPUT',
          [dst(cidr)],
          RETURN,
          because(`-x ${cidr.text}`, `destination ${cidr.text} is excluded`),
        ),
      );
    }
  }
}

export function includeOutboundPorts({ config, rules }: PlanContext): void {
  for (const p of destinationPortMatches(config.outbound.ports.include, config.compactRules)) {
    rules.both(
      append(
        'nat',
        'ISTIO_OUTPUT',
        [TCP, p],
        jump('ISTIO_REDIRECT'),
        because(`-q ${portsText(portsOf(p))}`, 'outbound TCP to this port is captured'),
      ),
    );
  }
}

const vmTraffic = "the VM's outbound traffic is captured";

/**
 * Included CIDRs, and traffic from KubeVirt interfaces to them. Upstream orders these
 * differently: for "*" the ISTIO_OUTPUT jump comes before the inserts; for a list, each
 * CIDR's inserts come before its jump.
 */
export function includeOutboundCidrs({ config, rules }: PlanContext): void {
  const include =
    config.outbound.cidrs.include === 'all' ? 'all' : cidrList(config.outbound.cidrs.include, config.compactRules);
  const virtual = config.interfaces.virtual;
  for (const family of FAMILIES) {
    if (include === 'all') {
      const all = because('-i *', 'outbound TCP to any destination is captured');
      rules.only(family, append('nat', 'ISTIO_OUTPUT', [], jump('ISTIO_REDIRECT'), all));
      for (const nic of virtual)
        rules.only(
          family,
          traced(
            'KubevirtCommand',
            insert('nat', 'PREROUTING', 1, [inIf(nic)], jump('ISTIO_REDIRECT'), because(`-k ${nic} -i *`, vmTraffic)),
          ),
        );
      continue;
    }
    for (const cidr of include.filter((c) => c.family === family)) {
      for (const nic of virtual)
        rules.only(
          family,
          traced(
            'KubevirtCommand',
            insert(
              'nat',
              'PREROUTING',
              1,
              [inIf(nic), dst(cidr)],
              jump('ISTIO_REDIRECT'),
              because(`-k ${nic} -i ${cidr.text}`, vmTraffic),
            ),
          ),
        );
      rules.only(
        family,
        append(
          'nat',
          'ISTIO_OUTPUT',
          [dst(cidr)],
          jump('ISTIO_REDIRECT'),
          because(`-i ${cidr.text}`, `outbound TCP to ${cidr.text} is captured`),
        ),
      );
    }
  }
}
