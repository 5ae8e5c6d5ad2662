/**
 * nftables step 12 (spec §6): DNS to the agent on 15053 and the conntrack zones that keep the
 * proxy's own DNS flows apart from the app's (see the iptables planner's dns.ts). Note the word
 * order upstream uses: the nat redirects put the address before the port, the raw zone rules
 * the port before the address.
 */
import { AGENT_DNS_PORT } from '../dns.js';
import { dnsHost, dnsServers, proxyOwners } from '../decisions.js';
import type { NftPlanContext } from './context.js';
import { writesDnsJumps } from './differences.js';
import { daddr, jump, metaOwner, redirect, saddr, TCP, tcpDport, udpDport, udpSport, zone } from './matches.js';

export function dnsCapture(ctx: NftPlanContext): void {
  const { config, records } = ctx;
  if (config.dns.mode === 'off') return;
  const all = config.dns.mode === 'all';
  const toAgent = redirect(AGENT_DNS_PORT);
  const jumps = writesDnsJumps(config, records.ipv6);
  records.add('raw', 'output', [], jump('istio-output-dns'));
  if (jumps) records.add('nat', 'istio-output', [], jump('istio-output-dns'));
  if (all) {
    records.add('nat', 'istio-output-dns', [TCP, tcpDport(53)], toAgent);
    records.add('nat', 'istio-output-dns', [udpDport(53)], toAgent);
  } else {
    for (const match of [tcpDport(53), udpDport(53)]) {
      for (const family of ctx.families) {
        for (const server of dnsServers(config, family))
          records.add('nat', 'istio-output-dns', [daddr(family, dnsHost(server).text), match], toAgent);
      }
    }
  }
  for (const o of proxyOwners(config)) {
    records.add('raw', 'istio-output-dns', [udpDport(53), metaOwner(o.kind, o.id)], zone(1));
    records.add('raw', 'istio-output-dns', [udpSport(AGENT_DNS_PORT), metaOwner(o.kind, o.id)], zone(2));
  }
  if (jumps) records.add('raw', 'prerouting', [], jump('istio-inbound'));
  if (all) {
    records.add('raw', 'istio-output-dns', [udpDport(53)], zone(2));
    records.add('raw', 'istio-inbound', [udpSport(53)], zone(1));
    return;
  }
  for (const family of ctx.families) {
    for (const server of dnsServers(config, family)) {
      records.add('raw', 'istio-output-dns', [udpDport(53), daddr(family, dnsHost(server).text)], zone(2));
      records.add('raw', 'istio-inbound', [udpSport(53), saddr(family, dnsHost(server).text)], zone(1));
    }
  }
}
