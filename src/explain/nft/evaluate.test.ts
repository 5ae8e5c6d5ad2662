/**
 * The nftables match evaluator, one expression at a time, in both spellings the walk meets:
 * the transaction text this tool writes and nft's listing of it.
 *
 * (Longer than ~200 lines: one block per kind of expression the renderer writes, each with its
 * cases, read best in one place.)
 */
import { describe, expect, it } from 'vitest';
import { parseIpAddress, type IpAddress } from '../../model/network.js';
import { parseConnection, type ConnectionFlags } from '../connection.js';
import { firstPacket, type ConnState, type PacketState } from '../packet.js';
import { evaluateNftMatch } from './evaluate.js';
import { parseNftRule } from './parse.js';

const ip = (text: string) => parseIpAddress(text, { canonical: true }) as IpAddress;
const POD = [ip('192.0.2.10'), ip('2001:db8::10')];
const packet = (flags: ConnectionFlags, state: ConnState = 'NEW') => firstPacket(parseConnection(flags, POD), state);

const app = packet({ dst: '198.51.100.5:80', uid: '1000', gid: '2000' });
const proxy = packet({ dst: '198.51.100.5:80', uid: '1337', gid: '1337' });
const appV6 = packet({ dst: '[2001:db8:5::5]:80', uid: '1000', gid: '1000' });
const local = packet({ dst: '127.0.0.1:8080', uid: '1000', gid: '1000' });
const udpDns = packet({ protocol: 'udp', dst: '203.0.113.53:53', uid: '1000' });
const inbound = packet({ direction: 'inbound', src: '203.0.113.7:40000', dst: '192.0.2.10:8080' });
const vm = packet({ direction: 'inbound', src: '203.0.113.7:40000', dst: '198.51.100.5:80', inInterface: 'vnet0' });

/** Evaluates the matches of a rule text (there must be at least one, and only matches). */
function holds(text: string, p: PacketState): boolean {
  const items = parseNftRule(text);
  expect(items.length, text).toBeGreaterThan(0);
  return items.every((item) => {
    if (item.kind !== 'match' && item.kind !== 'unknownMatch') throw new Error(`not a match: ${item.text}`);
    return evaluateNftMatch(item, p).matched;
  });
}

describe('nft matches', () => {
  it('iifname / oifname, quoted or bare, with != and the * wildcard; "" where the hook has no such interface', () => {
    expect(holds('oifname lo', local)).toBe(true);
    expect(holds('oifname "lo"', local)).toBe(true);
    expect(holds('oifname "lo"', app)).toBe(false);
    expect(holds('oifname != "lo"', app)).toBe(true);
    expect(holds('oifname "eth*"', app)).toBe(true);
    expect(holds('iifname "vnet0"', vm)).toBe(true);
    expect(holds('iifname { "eth0", "vnet0" }', vm)).toBe(true);
    expect(holds('iifname "lo"', app)).toBe(false);
    expect(holds('iifname != "lo"', app)).toBe(true);
  });

  it('meta l4proto (sets, numbers, !=), ip protocol and ip6 nexthdr (which need their family)', () => {
    expect(holds('meta l4proto tcp', app)).toBe(true);
    expect(holds('meta l4proto tcp', udpDns)).toBe(false);
    expect(holds('meta l4proto != tcp', udpDns)).toBe(true);
    expect(holds('meta l4proto { tcp, udp }', udpDns)).toBe(true);
    expect(holds('meta l4proto 17', udpDns)).toBe(true);
    expect(holds('ip protocol tcp', app)).toBe(true);
    expect(holds('ip protocol tcp', appV6)).toBe(false);
    expect(holds('ip6 nexthdr tcp', appV6)).toBe(true);
  });

  it('meta nfproto', () => {
    expect(holds('meta nfproto ipv6', appV6)).toBe(true);
    expect(holds('meta nfproto ipv6', app)).toBe(false);
  });

  it('ip/ip6 saddr/daddr: hosts, prefixes (written /32 or not), sets and intervals from --compact-rules, !=', () => {
    expect(holds('ip daddr 198.51.100.5', app)).toBe(true);
    expect(holds('ip daddr 198.51.100.5/32', app)).toBe(true);
    expect(holds('ip daddr 198.51.100.0/24', app)).toBe(true);
    expect(holds('ip daddr 198.51.100.128/25', app)).toBe(false);
    expect(holds('ip daddr { 10.0.0.0/8, 198.51.100.0/25 }', app)).toBe(true);
    expect(holds('ip daddr { 10.0.0.0/8, 198.51.100.0-198.51.100.4 }', app)).toBe(false);
    expect(holds('ip daddr 198.51.100.1-198.51.100.9', app)).toBe(true);
    expect(holds('ip daddr != 127.0.0.1/32', app)).toBe(true);
    expect(holds('ip daddr != 127.0.0.1/32', local)).toBe(false);
    expect(holds('ip daddr 127.0.0.1/8', local)).toBe(true);
    expect(holds('ip saddr 192.0.2.10', app)).toBe(true);
    expect(holds('ip saddr 127.0.0.6', app)).toBe(false);
    expect(holds('ip6 daddr 2001:db8:5::/48', appV6)).toBe(true);
    expect(holds('ip6 daddr { fd00::/8, 2001:db8:5::5 }', appV6)).toBe(true);
    expect(holds('ip6 saddr ::6/128', appV6)).toBe(false);
  });

  it('an address match of the other family never matches, not even negated (its family check fails first)', () => {
    expect(holds('ip daddr != 127.0.0.1', appV6)).toBe(false);
    expect(holds('ip6 daddr != ::1', app)).toBe(false);
  });

  it('tcp/udp/th sport/dport: ports, ranges, sets (one element too), != with a set; the other protocol never matches', () => {
    expect(holds('tcp dport 80', app)).toBe(true);
    expect(holds('tcp dport 81-90', app)).toBe(false);
    expect(holds('tcp dport { 53, 70-90 }', app)).toBe(true);
    expect(holds('tcp dport { 15008 }', app)).toBe(false);
    expect(holds('tcp dport != { 53, 15008 }', app)).toBe(true);
    expect(holds('tcp dport != 15008', udpDns)).toBe(false);
    expect(holds('udp dport 53', udpDns)).toBe(true);
    expect(holds('udp dport 53', app)).toBe(false);
    expect(holds('udp sport 15053', udpDns)).toBe(false);
    expect(holds('udp sport 40000', udpDns)).toBe(true);
    expect(holds('th dport 53', udpDns)).toBe(true);
    expect(holds('th dport 80', app)).toBe(true);
  });

  it('skuid/skgid with and without meta, with != and ranges; an arriving packet has no socket: no match either way', () => {
    expect(holds('meta skuid 1337', proxy)).toBe(true);
    expect(holds('skuid 1337', proxy)).toBe(true);
    expect(holds('skuid 1337', app)).toBe(false);
    expect(holds('meta skuid != 1337', app)).toBe(true);
    expect(holds('skuid != 1337', proxy)).toBe(false);
    expect(holds('meta skgid 2000', app)).toBe(true);
    expect(holds('skgid 1000-2000', app)).toBe(true);
    expect(holds('skgid != 1337', app)).toBe(true);
    expect(holds('meta skuid 1337', inbound)).toBe(false);
    expect(holds('meta skuid != 1337', inbound)).toBe(false);
  });

  it('an owner name is not resolved here, and says so', () => {
    const [item] = parseNftRule('skuid "istio-proxy"');
    if (item?.kind !== 'match') throw new Error('expected a match');
    const result = evaluateNftMatch(item, proxy);
    expect(result.matched).toBe(false);
    expect(result.note).toContain('is a name');
  });

  it('mark and meta mark (decimal or hex, !=, & mask); ct mark', () => {
    const marked: PacketState = { ...app, mark: 0x539, connmark: 0x539 };
    expect(holds('mark 1337', marked)).toBe(true);
    expect(holds('meta mark 0x00000539', marked)).toBe(true);
    expect(holds('mark 1337', app)).toBe(false);
    expect(holds('mark != 1338', marked)).toBe(true);
    expect(holds('meta mark != 0x0000053a', marked)).toBe(true);
    expect(holds('meta mark & 0x000000ff == 0x00000039', marked)).toBe(true);
    expect(holds('ct mark 1337', marked)).toBe(true);
    expect(holds('ct mark 0x00000539', app)).toBe(false);
  });

  it('ct state (a first packet is new) and ct zone', () => {
    expect(holds('ct state invalid', app)).toBe(false);
    expect(holds('ct state invalid', packet({ dst: '198.51.100.5:80' }, 'INVALID'))).toBe(true);
    expect(holds('ct state related,established', app)).toBe(false);
    expect(holds('ct state established,related', packet({ dst: '198.51.100.5:80' }, 'ESTABLISHED'))).toBe(true);
    expect(holds('ct state new', app)).toBe(true);
    expect(holds('ct state != invalid', app)).toBe(true);
    expect(holds('ct zone 2', { ...udpDns, zone: 2 })).toBe(true);
    expect(holds('ct zone 2', udpDns)).toBe(false);
  });

  it('an expression it does not know is an unknown match, evaluated as no match, and said so', () => {
    const items = parseNftRule('fib daddr type local counter accept');
    expect(items[0]).toEqual({ kind: 'unknownMatch', text: 'fib daddr type local' });
    const first = items[0];
    if (first?.kind !== 'unknownMatch') throw new Error('expected an unknown match');
    expect(evaluateNftMatch(first, app)).toEqual({
      matched: false,
      note: 'unknown match `fib daddr type local`: assuming no match',
    });
    expect(parseNftRule('ip dscp cs0 tcp dport 80 accept').map((i) => i.kind)).toEqual([
      'unknownMatch',
      'match',
      'verdict',
    ]);
  });
});

describe('nft statements and verdicts', () => {
  const effects = (text: string) => parseNftRule(text).map((i) => (i.kind === 'statement' ? i.effect : i));
  it('reads every statement and verdict the renderer writes, in both spellings', () => {
    expect(effects('counter redirect to :15001')).toEqual([{ kind: 'none' }, { kind: 'redirect', toPort: 15001 }]);
    expect(effects('counter packets 3 bytes 180 redirect to :15053')).toEqual([
      { kind: 'none' },
      { kind: 'redirect', toPort: 15053 },
    ]);
    expect(effects('tproxy ip6 to :15006 meta mark set 0x00000539 counter accept')).toEqual([
      { kind: 'tproxy', family: 'ipv6', toPort: 15006 },
      { kind: 'setMark', mark: 1337 },
      { kind: 'none' },
      { kind: 'verdict', verdict: { kind: 'accept' }, text: 'accept' },
    ]);
    expect(effects('counter meta mark set 1338')).toEqual([{ kind: 'none' }, { kind: 'setMark', mark: 1338 }]);
    expect(effects('ct mark set mark')).toEqual([{ kind: 'saveMark' }]);
    expect(effects('ct mark set meta mark')).toEqual([{ kind: 'saveMark' }]);
    expect(effects('meta mark set ct mark')).toEqual([{ kind: 'restoreMark' }]);
    expect(effects('ct zone set 2')).toEqual([{ kind: 'ctZone', zone: 2 }]);
    expect(effects('meta nftrace set 1')).toEqual([{ kind: 'none' }]);
    expect(effects('counter jump istio-output').at(-1)).toMatchObject({
      verdict: { kind: 'jump', chain: 'istio-output' },
    });
    expect(effects('goto x').at(-1)).toMatchObject({ verdict: { kind: 'goto', chain: 'x' } });
    for (const v of ['return', 'accept', 'drop', 'continue'])
      expect(effects(`counter ${v}`).at(-1)).toMatchObject({ verdict: { kind: v } });
    expect(effects('reject with tcp reset').at(-1)).toMatchObject({ verdict: { kind: 'reject' } });
  });

  it('statements it does not model are kept, as such', () => {
    expect(parseNftRule('log prefix "x " level info accept').map((i) => i.kind)).toEqual([
      'unknownStatement',
      'verdict',
    ]);
  });

  it("iptables-nft's compat expressions: an xt target is a statement, an xt match an unknown match", () => {
    expect(parseNftRule('meta l4proto tcp ip daddr != 127.0.0.1 counter xt target TPROXY')).toMatchObject([
      { kind: 'match' },
      { kind: 'match' },
      { kind: 'statement' },
      { kind: 'unknownStatement', text: 'xt target TPROXY' },
    ]);
    expect(parseNftRule('xt match "owner" counter return')[0]).toEqual({
      kind: 'unknownMatch',
      text: 'xt match "owner"',
    });
  });
});
