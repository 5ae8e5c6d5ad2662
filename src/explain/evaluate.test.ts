import { describe, expect, it } from 'vitest';
import type { KernelMatch } from '../model/kernel-rule.js';
import { parseConnection, type ConnectionFlags } from './connection.js';
import { cidrContains, evaluateMatch } from './evaluate.js';
import { firstPacket, type ConnState } from './packet.js';
import { type Cidr, parseCidr, parseIpAddress, type IpAddress } from '../model/network.js';

const ip = (text: string) => parseIpAddress(text, { canonical: true }) as IpAddress;
const net = (text: string) => parseCidr(text) as Cidr;
const POD = [ip('192.0.2.10'), ip('2001:db8::10')];

function packet(flags: ConnectionFlags, state: ConnState = 'NEW') {
  return firstPacket(parseConnection(flags, POD), state);
}
const out = packet({ dst: '198.51.100.5:80', uid: '1000', gid: '2000' });
const udpIn = packet({ direction: 'inbound', protocol: 'udp', src: '198.51.100.53:53', dst: '192.0.2.10:40000' });
const matched = (m: KernelMatch, p = out) => evaluateMatch(m, p).matched;

describe('evaluating one match', () => {
  it('-p, with ! and all', () => {
    expect(matched({ kind: 'protocol', protocol: 'tcp' })).toBe(true);
    expect(matched({ kind: 'protocol', protocol: 'udp' })).toBe(false);
    expect(matched({ kind: 'protocol', protocol: 'udp', negated: true })).toBe(true);
    expect(matched({ kind: 'protocol', protocol: 'all' }, udpIn)).toBe(true);
  });

  it('-s and -d, with !, prefixes, and the other family', () => {
    expect(matched({ kind: 'destination', cidr: net('198.51.100.0/24') })).toBe(true);
    expect(matched({ kind: 'destination', cidr: net('198.51.100.0/25'), negated: true })).toBe(false);
    expect(matched({ kind: 'destination', cidr: net('198.51.100.128/25') })).toBe(false);
    expect(matched({ kind: 'destination', cidr: net('198.51.100.5/32') })).toBe(true);
    expect(matched({ kind: 'destination', cidr: net('::/0') })).toBe(false);
    expect(matched({ kind: 'source', cidr: net('192.0.2.10/32') })).toBe(true);
    expect(matched({ kind: 'source', cidr: net('127.0.0.6/32'), negated: true })).toBe(true);
    expect(cidrContains(net('2001:db8::/32'), ip('2001:db8::1'))).toBe(true);
  });

  it('-i and -o, with ! and the + wildcard; outbound leaves by lo for loopback and own addresses', () => {
    expect(matched({ kind: 'outInterface', name: 'eth0' })).toBe(true);
    expect(matched({ kind: 'outInterface', name: 'eth+' })).toBe(true);
    expect(matched({ kind: 'outInterface', name: 'lo', negated: true })).toBe(true);
    expect(matched({ kind: 'inInterface', name: 'eth0' })).toBe(false);
    expect(matched({ kind: 'inInterface', name: 'eth0' }, udpIn)).toBe(true);
    expect(matched({ kind: 'outInterface', name: 'lo' }, packet({ dst: '127.0.0.1:80' }))).toBe(true);
    expect(matched({ kind: 'outInterface', name: 'lo' }, packet({ dst: '192.0.2.10:80' }))).toBe(true);
    expect(matched({ kind: 'outInterface', name: 'lo' }, packet({ dst: '[::1]:80' }))).toBe(true);
  });

  it('--dport and --sport (ranges, !) and multiport in each direction', () => {
    expect(matched({ kind: 'destinationPort', port: { first: 80, last: 80 } })).toBe(true);
    expect(matched({ kind: 'destinationPort', port: { first: 81, last: 90 } })).toBe(false);
    expect(matched({ kind: 'destinationPort', port: { first: 15008, last: 15008 }, negated: true })).toBe(true);
    expect(matched({ kind: 'sourcePort', port: { first: 53, last: 53 } }, udpIn)).toBe(true);
    const ports = [
      { first: 53, last: 53 },
      { first: 70, last: 90 },
    ];
    expect(matched({ kind: 'multiport', ports })).toBe(true);
    expect(matched({ kind: 'multiport', ports, negated: true })).toBe(false);
    expect(matched({ kind: 'multiport', ports, direction: 'source' }, udpIn)).toBe(true);
    expect(matched({ kind: 'multiport', ports, direction: 'source' })).toBe(false);
    expect(matched({ kind: 'multiport', ports, direction: 'either' }, udpIn)).toBe(true);
  });

  it('owner uid/gid with !; packets from outside have no owner and match only the negated form', () => {
    expect(matched({ kind: 'owner', owner: 'uid', id: '1000' })).toBe(true);
    expect(matched({ kind: 'owner', owner: 'uid', id: '1337' })).toBe(false);
    expect(matched({ kind: 'owner', owner: 'uid', id: '1337', negated: true })).toBe(true);
    expect(matched({ kind: 'owner', owner: 'gid', id: '2000' })).toBe(true);
    expect(matched({ kind: 'owner', owner: 'gid', id: '1000' })).toBe(false);
    expect(matched({ kind: 'owner', owner: 'uid', id: '1337' }, udpIn)).toBe(false);
    expect(matched({ kind: 'owner', owner: 'uid', id: '1337', negated: true }, udpIn)).toBe(true);
    const named = evaluateMatch({ kind: 'owner', owner: 'uid', id: 'istio-proxy' }, out);
    expect(named.matched).toBe(false);
    expect(named.note).toContain('is a name');
  });

  it('mark and connmark, with masks and !', () => {
    const marked = { ...out, mark: 0x539, connmark: 0x1539 };
    expect(matched({ kind: 'mark', mark: 1337 }, marked)).toBe(true);
    expect(matched({ kind: 'mark', mark: 1337 })).toBe(false);
    expect(matched({ kind: 'mark', mark: 1338, negated: true }, marked)).toBe(true);
    expect(matched({ kind: 'mark', mark: 0x39, mask: 0xff }, marked)).toBe(true);
    expect(matched({ kind: 'connmark', mark: 0x539, mask: 0xfff }, marked)).toBe(true);
    expect(matched({ kind: 'connmark', mark: 0x539 }, marked)).toBe(false);
  });

  it('conntrack state: a first packet is NEW', () => {
    expect(matched({ kind: 'conntrack', states: ['RELATED', 'ESTABLISHED'] })).toBe(false);
    expect(matched({ kind: 'conntrack', states: ['INVALID'] }, packet({ dst: '198.51.100.5:80' }, 'INVALID'))).toBe(
      true,
    );
    expect(matched({ kind: 'conntrack', states: ['NEW'], negated: true })).toBe(false);
  });

  it('comments always match; unknown matches never, and say so', () => {
    expect(matched({ kind: 'comment', text: 'x' })).toBe(true);
    expect(evaluateMatch({ kind: 'unknown', text: '-m bpf --bytecode 1' }, out)).toEqual({
      matched: false,
      note: 'unknown match `-m bpf --bytecode 1`: assuming no match',
    });
  });
});
