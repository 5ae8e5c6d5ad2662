/**
 * nftables step 12 (spec §6): DNS to the agent on 15053 and the conntrack zones that keep the
 * proxy's own DNS flows apart from the app's (see the iptables planner's dns.ts). Note the word
 * order upstream uses: the nat redirects put the address before the port, the raw zone rules
 * the port before the address.
 */
import type { IpAddress } from '../../model/network.js';
import { because } from '../builder.js';
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
  const setting = all ? '--redirect-dns --capture-all-dns' : '--redirect-dns';
  const why = (text: string) => because(setting, text);
  const toServer = (server: IpAddress) =>
    because(`--redirect-dns (DNS server ${server.text})`, `DNS to ${server.text} is captured`);
  const answers = 'DNS answers from servers use conntrack zone 1';
  const queries = "the app's DNS queries use conntrack zone 2";
  records.add('raw', 'output', [], jump('istio-output-dns'), why('DNS gets its conntrack zones'));
  if (jumps) records.add('nat', 'istio-output', [], jump('istio-output-dns'), why('DNS is captured'));
  if (all) {
    const anyServer = why("DNS to any server goes to the agent's DNS proxy");
    records.add('nat', 'istio-output-dns', [TCP, tcpDport(53)], toAgent, anyServer);
    records.add('nat', 'istio-output-dns', [udpDport(53)], toAgent, anyServer);
  } else {
    for (const match of [tcpDport(53), udpDport(53)]) {
      for (const family of ctx.families) {
        for (const server of dnsServers(config, family))
          records.add(
            'nat',
            'istio-output-dns',
            [daddr(family, dnsHost(server).text), match],
            toAgent,
            toServer(server),
          );
      }
    }
  }
  for (const o of proxyOwners(config)) {
    const by = `${setting} -${o.kind === 'uid' ? 'u' : 'g'} ${o.id}`;
    records.add(
      'raw',
      'istio-output-dns',
      [udpDport(53), metaOwner(o.kind, o.id)],
      zone(1),
      because(by, "the proxy's own DNS queries use conntrack zone 1"),
    );
    records.add(
      'raw',
      'istio-output-dns',
      [udpSport(AGENT_DNS_PORT), metaOwner(o.kind, o.id)],
      zone(2),
      because(by, "the agent's DNS answers use conntrack zone 2"),
    );
  }
  if (jumps) records.add('raw', 'prerouting', [], jump('istio-inbound'), why(answers));
  if (all) {
    records.add('raw', 'istio-output-dns', [udpDport(53)], zone(2), why(queries));
    records.add('raw', 'istio-inbound', [udpSport(53)], zone(1), why(answers));
    return;
  }
  for (const family of ctx.families) {
    for (const server of dnsServers(config, family)) {
      const host = dnsHost(server).text;
      records.add('raw', 'istio-output-dns', [udpDport(53), daddr(family, host)], zone(2), toServer(server));
      records.add('raw', 'istio-inbound', [udpSport(53), saddr(family, host)], zone(1), toServer(server));
    }
  }
}
