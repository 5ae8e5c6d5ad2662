/**
 * DNS capture (upstream step 12): the app's DNS goes to the agent on 15053. Conntrack zones
 * keep the proxy's own upstream queries (zone 1) apart from the app's captured ones (zone 2),
 * so that the two UDP flows with the same 5-tuple after NAT cannot collide.
 */
import { FAMILIES, type IpFamily } from '../model/family.js';
import type { Match, Target } from '../model/netfilter.js';
import type { IpAddress } from '../model/network.js';
import { append, because, traced } from './builder.js';
import { proxyOwners, type PlanContext } from './context.js';
import { dnsHost as hostCidr, dnsServers } from './decisions.js';
import { dport, dst, jump, ownerOf, port, sport, src, TCP, UDP } from './matches.js';

/** Where the agent's DNS proxy listens. */
export const AGENT_DNS_PORT = 15053;
const DNS = port(53);

const toAgent = (singularOption?: true): Target => ({
  kind: 'redirect',
  toPort: AGENT_DNS_PORT,
  ...(singularOption ? { singularOption } : {}),
});
const zone = (n: number): Target => ({ kind: 'ct', zone: n });

export function dnsCapture({ config, rules }: PlanContext): void {
  const dns = config.dns;
  if (dns.mode === 'off') return;
  const all = dns.mode === 'all';
  const servers = (family: IpFamily) => dnsServers(config, family);
  const setting = all ? '--redirect-dns --capture-all-dns' : '--redirect-dns';
  const why = (text: string) => because(setting, text);
  const toServer = (server: IpAddress) =>
    because(`--redirect-dns (DNS server ${server.text})`, `DNS to ${server.text} is captured`);

  rules.both(
    traced('JumpOutbound', append('raw', 'OUTPUT', [], jump('ISTIO_OUTPUT_DNS'), why('DNS gets its conntrack zones'))),
  );
  for (const family of FAMILIES) {
    if (all || servers(family).length > 0)
      rules.only(family, append('nat', 'ISTIO_OUTPUT', [], jump('ISTIO_OUTPUT_DNS'), why('DNS is captured')));
  }
  // TCP, then UDP; upstream spells the UDP option `--to-port` (singular).
  for (const [protocol, singular] of [
    [TCP, undefined],
    [UDP, true],
  ] as const) {
    if (all) {
      rules.both(
        append(
          'nat',
          'ISTIO_OUTPUT_DNS',
          [protocol, dport(DNS)],
          toAgent(singular),
          why("DNS to any server goes to the agent's DNS proxy"),
        ),
      );
      continue;
    }
    for (const family of FAMILIES) {
      for (const server of servers(family)) {
        rules.only(
          family,
          append(
            'nat',
            'ISTIO_OUTPUT_DNS',
            [protocol, dport(DNS), dst(hostCidr(server))],
            toAgent(singular),
            toServer(server),
          ),
        );
      }
    }
  }
  for (const owner of proxyOwners(config)) {
    const proxy: Match = ownerOf(owner.kind, owner.id);
    const by = `${setting} -${owner.kind === 'uid' ? 'u' : 'g'} ${owner.id}`;
    rules.both(
      append(
        'raw',
        'ISTIO_OUTPUT_DNS',
        [UDP, dport(DNS), proxy],
        zone(1),
        because(by, "the proxy's own DNS queries use conntrack zone 1"),
      ),
    );
    rules.both(
      append(
        'raw',
        'ISTIO_OUTPUT_DNS',
        [UDP, sport(port(AGENT_DNS_PORT)), proxy],
        zone(2),
        because(by, "the agent's DNS answers use conntrack zone 2"),
      ),
    );
  }
  const answers = 'DNS answers from servers use conntrack zone 1';
  const queries = "the app's DNS queries use conntrack zone 2";
  if (all) {
    rules.both(append('raw', 'PREROUTING', [], jump('ISTIO_INBOUND'), why(answers)));
    rules.both(append('raw', 'ISTIO_OUTPUT_DNS', [UDP, dport(DNS)], zone(2), why(queries)));
    rules.both(append('raw', 'ISTIO_INBOUND', [UDP, sport(DNS)], zone(1), why(answers)));
    return;
  }
  for (const family of FAMILIES) {
    if (servers(family).length > 0)
      rules.only(family, append('raw', 'PREROUTING', [], jump('ISTIO_INBOUND'), why(answers)));
    for (const server of servers(family)) {
      rules.only(
        family,
        append('raw', 'ISTIO_OUTPUT_DNS', [UDP, dport(DNS), dst(hostCidr(server))], zone(2), toServer(server)),
      );
      rules.only(
        family,
        append('raw', 'ISTIO_INBOUND', [UDP, sport(DNS), src(hostCidr(server))], zone(1), toServer(server)),
      );
    }
  }
}
