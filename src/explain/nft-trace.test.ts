import { describe, expect, it } from 'vitest';
import { parseIpAddress, type IpAddress } from '../model/network.js';
import { parseConnection } from './connection.js';
import { parseNftTrace, traceTableName, traceTableTransaction } from './nft-trace.js';

// Real `nft monitor trace` output (nft 1.0.6): one packet through our trace table and the nat
// table, then the flow's next packet, which the monitor gives the same trace id.
const OUTPUT = `trace id 50cfea05 inet istio-explain-trace-7 trace packet: oif "lo" ip6 saddr ::1 ip6 daddr ::1 ip6 nexthdr tcp tcp sport 50504 tcp dport 80 tcp flags == syn
trace id 50cfea05 inet istio-explain-trace-7 trace rule meta l4proto tcp ip6 daddr ::1 tcp dport 80 meta nftrace set 1 (verdict continue)
trace id 50cfea05 inet istio-explain-trace-7 trace policy accept 
trace id 50cfea05 inet istio-proxy-nat output packet: oif "lo" ip6 saddr ::1 ip6 daddr ::1 ip6 nexthdr tcp tcp sport 50504 tcp dport 80 tcp flags == syn
trace id 50cfea05 inet istio-proxy-nat output rule counter packets 0 bytes 0 jump istio-output (verdict jump istio-output)
trace id 50cfea05 inet istio-proxy-nat istio-output rule oifname "lo" meta skuid != 1337 counter packets 0 bytes 0 return (verdict return)
trace id 9999aaaa inet istio-proxy-nat output rule counter packets 0 bytes 0 jump istio-output (verdict jump istio-output)
trace id 50cfea05 inet istio-proxy-nat output policy accept 
trace id 50cfea05 inet istio-explain-trace-7 trace packet: oif "lo" ip6 saddr ::1 ip6 daddr ::1 ip6 nexthdr tcp tcp sport 50504 tcp dport 80 tcp flags == ack
trace id 50cfea05 inet istio-explain-trace-7 trace policy accept 
`;

describe('reading nft monitor trace', () => {
  it("keeps the first packet's rule, return and policy events, with counter values left out", () => {
    expect(parseNftTrace(OUTPUT)).toEqual([
      {
        table: 'inet istio-explain-trace-7',
        chain: 'trace',
        kind: 'rule',
        verdict: 'continue',
        rule: 'meta l4proto tcp ip6 daddr ::1 tcp dport 80 meta nftrace set 1',
      },
      { table: 'inet istio-explain-trace-7', chain: 'trace', kind: 'policy', verdict: 'accept' },
      {
        table: 'inet istio-proxy-nat',
        chain: 'output',
        kind: 'rule',
        verdict: 'jump istio-output',
        rule: 'counter jump istio-output',
      },
      {
        table: 'inet istio-proxy-nat',
        chain: 'istio-output',
        kind: 'rule',
        verdict: 'return',
        rule: 'oifname "lo" meta skuid != 1337 counter return',
      },
      { table: 'inet istio-proxy-nat', chain: 'output', kind: 'policy', verdict: 'accept' },
    ]);
    expect(parseNftTrace('')).toEqual([]);
  });

  it('adds a table of its own that runs first at the hook and marks only the connection', () => {
    const pod = [parseIpAddress('2001:db8::10', { canonical: true }) as IpAddress];
    const c = parseConnection({ protocol: 'udp', dst: '[2001:db8::53]:53', uid: '1000' }, pod);
    expect(traceTableTransaction(traceTableName(42), c, true)).toBe(
      [
        'add table inet istio-explain-trace-42',
        'add chain inet istio-explain-trace-42 trace { type filter hook output priority -350 ; }',
        'add rule inet istio-explain-trace-42 trace meta l4proto udp ip6 saddr 2001:db8::10 ip6 daddr 2001:db8::53 udp dport 53 meta nftrace set 1',
        '',
      ].join('\n'),
    );
    const inbound = parseConnection({ direction: 'inbound', dst: '192.0.2.10:8080' }, []);
    expect(traceTableTransaction('t', inbound, false)).toContain(
      'type filter hook prerouting priority -350 ; }\nadd rule inet t trace meta l4proto tcp ip daddr 192.0.2.10 tcp dport 8080 meta nftrace set 1',
    );
  });
});
