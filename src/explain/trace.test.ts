import { describe, expect, it } from 'vitest';
import { parseTrace } from './trace.js';

// Real xtables-monitor --trace output (iptables v1.8.9, nft backend), two packets of one flow.
const OUTPUT = `PACKET: 2 2c103779 OUT=lo SRC=127.0.0.1 DST=127.0.0.1 LEN=60 TOS=0x0 TTL=64 ID=47841 DF SPORT=43064 DPORT=8080 SYN 
 TRACE: 2 2c103779 raw:OUTPUT:rule:0x2:CONTINUE  -4 -t raw -A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -m comment --comment "istio-iptables explain trace 1" -j TRACE
 TRACE: 2 2c103779 raw:OUTPUT:policy:ACCEPT 
 TRACE: 2 2c103779 nat:OUTPUT:rule:0x3:JUMP:ISTIO_OUTPUT  -4 -t nat -A OUTPUT -j ISTIO_OUTPUT
 TRACE: 2 2c103779 nat:ISTIO_OUTPUT:rule:0x9:0xfffffffb  -4 -t nat -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
 TRACE: 2 2c103779 nat:OUTPUT:policy:ACCEPT 
PACKET: 2 2c103779 OUT=lo SRC=127.0.0.1 DST=127.0.0.1 LEN=52 ACK 
 TRACE: 2 2c103779 raw:OUTPUT:rule:0x2:CONTINUE  -4 -t raw -A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -m comment --comment "istio-iptables explain trace 1" -j TRACE
 TRACE: 2 2c103779 raw:OUTPUT:policy:ACCEPT 
`;

describe('reading xtables-monitor --trace', () => {
  it('keeps the first packet only, names numeric verdicts, and drops the family and table prefix', () => {
    expect(parseTrace(OUTPUT)).toEqual([
      {
        table: 'raw',
        chain: 'OUTPUT',
        kind: 'rule',
        verdict: 'CONTINUE',
        rule: '-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -m comment --comment "istio-iptables explain trace 1" -j TRACE',
      },
      { table: 'raw', chain: 'OUTPUT', kind: 'policy', verdict: 'ACCEPT' },
      { table: 'nat', chain: 'OUTPUT', kind: 'rule', verdict: 'JUMP:ISTIO_OUTPUT', rule: '-A OUTPUT -j ISTIO_OUTPUT' },
      {
        table: 'nat',
        chain: 'ISTIO_OUTPUT',
        kind: 'rule',
        verdict: 'RETURN',
        rule: '-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN',
      },
      { table: 'nat', chain: 'OUTPUT', kind: 'policy', verdict: 'ACCEPT' },
    ]);
    expect(parseTrace('')).toEqual([]);
  });
});
