/** The walker on planned rules (every capture path) and on foreign ones. Longer than ~200 lines: one case per path. */
import { describe, expect, it } from 'vitest';
import type { CaptureConfig } from '../config/capture-config.js';
import type { KernelRule, KernelTables } from '../model/kernel-rule.js';
import { parseCidr, parseIpAddress, type Cidr, type IpAddress } from '../model/network.js';
import { planCapture } from '../plan/plan-capture.js';
import { REDIRECT_IPV4 } from '../../test/support/capture-config.js';
import { parseConnection, type ConnectionFlags } from './connection.js';
import { explainConnection, planSource } from './explain.js';
import { describeOutcome } from './outcome.js';
import { TablesBuilder } from './tables.js';
import { walk } from './walk.js';

const ip = (text: string) => parseIpAddress(text, { canonical: true }) as IpAddress;
const cidr = (text: string) => parseCidr(text) as Cidr;
const POD = [ip('192.0.2.10'), ip('2001:db8::10')];
const PORTS = { outbound: 15001, inbound: 15006, dns: 15053 };
const DUAL: CaptureConfig = { ...REDIRECT_IPV4, families: ['ipv4', 'ipv6'] };
const TPROXY: CaptureConfig = {
  ...DUAL,
  inbound: { ...DUAL.inbound, interception: { mode: 'tproxy', mark: 1337, routeTable: 133 } },
};

function explain(config: CaptureConfig, flags: ConnectionFlags) {
  const result = explainConnection(planSource(planCapture(config)), parseConnection(flags, POD));
  return {
    ...result,
    words: describeOutcome(result, PORTS),
    tried: result.path.map((s) => `${s.matched ? '+' : '-'} ${s.rule}`),
  };
}

describe('walking the plan: outbound (OUTPUT: raw → mangle → nat)', () => {
  it('app → a service: redirected to 15001 by the catch-all, with the jumps and the -i setting', () => {
    const r = explain(DUAL, { dst: '198.51.100.5:80', uid: '1000' });
    expect(r.outcome).toBe('redirect');
    expect(r.toPort).toBe(15001);
    expect(r.decidedBy).toMatchObject({
      table: 'nat',
      chain: 'ISTIO_REDIRECT',
      rule: '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
    });
    expect(r.decidedBy.via.map((s) => s.rule)).toEqual([
      '-A OUTPUT -j ISTIO_OUTPUT',
      '-A ISTIO_OUTPUT -j ISTIO_REDIRECT',
    ]);
    expect(r.words).toBe(
      "captured: redirected to the proxy's outbound listener 15001 (original destination 198.51.100.5:80 kept for SO_ORIGINAL_DST): outbound TCP to any destination is captured (`-i *`)",
    );
    expect(r.final).toMatchObject({ destination: '127.0.0.1', destinationPort: 15001 });
    expect(r.tried).toContain('- -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN');
  });

  it('the same in IPv6: to ::1', () => {
    const r = explain(DUAL, { dst: '[2001:db8::99]:443', uid: '1000' });
    expect(r.outcome).toBe('redirect');
    expect(r.final.destination).toBe('::1');
  });

  it('→ an excluded CIDR passes, naming -x', () => {
    const r = explain(
      { ...DUAL, outbound: { ...DUAL.outbound, cidrs: { include: 'all', exclude: [cidr('198.51.100.0/24')] } } },
      { dst: '198.51.100.5:80', uid: '1000' },
    );
    expect(r.outcome).toBe('accept');
    expect(r.decidedBy.rule).toBe('-A ISTIO_OUTPUT -d 198.51.100.0/24 -j RETURN');
    expect(r.words).toBe('passes untouched: destination 198.51.100.0/24 is excluded (`-x 198.51.100.0/24`)');
  });

  it('→ localhost passes (the app over lo), → its own pod IP too', () => {
    expect(explain(DUAL, { dst: '127.0.0.1:8080', uid: '1000' }).decidedBy.rule).toBe(
      '-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN',
    );
    const own = explain(DUAL, { dst: '192.0.2.10:8080', uid: '1000' });
    expect(own.outcome).toBe('accept');
    expect(own.words).toContain('the app talking to itself over lo passes');
  });

  it('the proxy (uid 1337) passes; to its own pod IP it is redirected inbound; by gid alone it passes too', () => {
    expect(explain(DUAL, { dst: '198.51.100.5:80', uid: '1337' }).decidedBy.rule).toBe(
      '-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN',
    );
    const self = explain(DUAL, { dst: '192.0.2.10:8080', uid: '1337', gid: '1337' });
    expect(self).toMatchObject({ outcome: 'redirect', toPort: 15006 });
    expect(explain(DUAL, { dst: '198.51.100.5:80', uid: '0', gid: '1337' }).decidedBy.rule).toBe(
      '-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN',
    );
  });

  it('DNS: tcp and udp to 15053; the proxy gets conntrack zone 1, the app zone 2', () => {
    const dns: CaptureConfig = { ...DUAL, dns: { mode: 'all' } };
    for (const protocol of ['tcp', 'udp']) {
      const r = explain(dns, { protocol, dst: '203.0.113.53:53', uid: '1000' });
      expect(r).toMatchObject({ outcome: 'redirect', toPort: 15053 });
      expect(r.words).toContain("the agent's DNS proxy 15053");
      expect(r.final.zone).toBe(protocol === 'udp' ? 2 : 0);
    }
    const proxy = explain(dns, { protocol: 'udp', dst: '203.0.113.53:53', uid: '1337' });
    expect(proxy.outcome).toBe('accept');
    expect(proxy.final.zone).toBe(1);
    expect(proxy.tried[0]).toBe('+ -A OUTPUT -j ISTIO_OUTPUT_DNS');
    expect(proxy.path[0]?.table).toBe('raw');
  });

  it('excluded outbound ports pass for udp as well', () => {
    const r = explain(
      { ...DUAL, outbound: { ...DUAL.outbound, ports: { include: [], exclude: [{ first: 5432, last: 5432 }] } } },
      { protocol: 'udp', dst: '198.51.100.5:5432', uid: '1000' },
    );
    expect(r.decidedBy.origin?.setting).toBe('-o 5432');
  });

  it('with no catch-all the walk falls off ISTIO_OUTPUT and the nat OUTPUT policy decides', () => {
    const r = explain(
      { ...DUAL, outbound: { ...DUAL.outbound, cidrs: { include: [], exclude: [] } } },
      { dst: '198.51.100.5:80', uid: '1000' },
    );
    expect(r.outcome).toBe('accept');
    expect(r.decidedBy).toMatchObject({ table: 'nat', chain: 'OUTPUT', rule: '-P OUTPUT ACCEPT' });
    expect(r.tried).toContain('+ -P OUTPUT ACCEPT');
    expect(r.tried[r.tried.length - 1]).toBe('+ -P POSTROUTING ACCEPT');
  });

  it('an excluded interface (-c) passes in nat OUTPUT itself', () => {
    const r = explain(
      { ...DUAL, interfaces: { exclude: ['eth1'], virtual: [] } },
      { dst: '198.51.100.5:80', uid: '1000', outInterface: 'eth1' },
    );
    expect(r.decidedBy).toMatchObject({ chain: 'OUTPUT', rule: '-A OUTPUT -o eth1 -j RETURN' });
  });
});

describe('walking the plan: inbound (PREROUTING: raw → mangle → nat, then routing)', () => {
  it('REDIRECT: to an app port → 15006; an excluded port and the tunnel port pass', () => {
    const config: CaptureConfig = {
      ...DUAL,
      inbound: { ...DUAL.inbound, ports: { kind: 'all', except: [{ first: 15021, last: 15021 }] } },
    };
    expect(explain(config, { direction: 'inbound', dst: '192.0.2.10:8080' })).toMatchObject({
      outcome: 'redirect',
      toPort: 15006,
    });
    const excluded = explain(config, { direction: 'inbound', dst: '192.0.2.10:15021' });
    expect(excluded.words).toBe('passes untouched: inbound port excluded from capture (`-d 15021`)');
    expect(explain(config, { direction: 'inbound', dst: '192.0.2.10:15008' }).decidedBy.origin?.setting).toBe(
      '-e 15008',
    );
  });

  it('TPROXY: marked, delivered to 15006 with the destination kept, routed by the fwmark rule', () => {
    const r = explain(TPROXY, { direction: 'inbound', dst: '192.0.2.10:8080' });
    expect(r).toMatchObject({ outcome: 'tproxy', toPort: 15006, final: { destination: '192.0.2.10', mark: 1337 } });
    expect(r.decidedBy.rule).toBe(
      '-A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006',
    );
    expect(r.notes).toContain(
      'routing: mark 0x539 matches `ip rule fwmark 0x539 lookup 133`, whose local route delivers it to the proxy',
    );
    expect(r.words).toContain('by TPROXY, source address preserved');
    // The RELATED,ESTABLISHED divert is tried and does not match a first packet.
    expect(r.tried).toContain('- -A ISTIO_INBOUND -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT');
  });

  it('TPROXY without --strict captures the tunnel port (upstream quirk); with --strict it passes', () => {
    expect(explain(TPROXY, { direction: 'inbound', dst: '192.0.2.10:15008' }).outcome).toBe('tproxy');
    expect(explain({ ...TPROXY, strict: true }, { direction: 'inbound', dst: '192.0.2.10:15008' }).outcome).toBe(
      'accept',
    );
  });

  it('from a -k interface: taken as outbound traffic and redirected to 15001', () => {
    const r = explain(
      { ...DUAL, interfaces: { exclude: [], virtual: ['vnet0'] } },
      {
        direction: 'inbound',
        src: '192.0.2.50:5000',
        dst: '198.51.100.5:80',
        inInterface: 'vnet0',
      },
    );
    expect(r).toMatchObject({ outcome: 'redirect', toPort: 15001 });
    expect(r.decidedBy.via[0]?.origin?.setting).toBe('-k vnet0 -i *');
  });

  it('udp answers from DNS servers get conntrack zone 1 in raw', () => {
    const r = explain(
      { ...DUAL, dns: { mode: 'all' } },
      { direction: 'inbound', protocol: 'udp', src: '203.0.113.53:53', dst: '192.0.2.10:40000' },
    );
    expect(r.final.zone).toBe(1);
    expect(r.outcome).toBe('accept');
  });

  it('--drop-invalid drops an INVALID packet in mangle PREROUTING', () => {
    const config = { ...DUAL, dropInvalid: true };
    const tables = planSource(planCapture(config)).tables.get('ipv4') as KernelTables;
    const connection = parseConnection({ direction: 'inbound', dst: '192.0.2.10:8080' }, POD);
    expect(walk(tables, connection).outcome).toBe('redirect');
    expect(tables.get('mangle')?.get('PREROUTING')?.rules[0]?.text).toBe(
      '-A PREROUTING -m conntrack --ctstate INVALID -j ISTIO_DROP',
    );
    const invalid = walk(tables, connection, undefined, 'INVALID');
    expect(invalid.outcome).toBe('drop');
    expect(invalid.decidedBy).toMatchObject({ table: 'mangle', chain: 'ISTIO_DROP', rule: '-A ISTIO_DROP -j DROP' });
  });
});

describe('walking foreign tables: jumps, goto, marks, unknown matches and targets, policies', () => {
  const rule = (chain: string, text: string, r: Partial<KernelRule>): KernelRule => ({
    table: 'mangle',
    chain,
    matches: [],
    target: { kind: 'none' },
    text: `-A ${chain} ${text}`,
    ...r,
  });
  const connection = parseConnection({ dst: '198.51.100.5:80', uid: '1000' }, POD);

  it('MARK then a mark match, CONNMARK save/restore, a goto that ends the calling chain, policy DROP', () => {
    const b = new TablesBuilder();
    b.declare('mangle', 'OUTPUT', 'DROP');
    b.add(rule('OUTPUT', '-j MARK --set-xmark 0x5/0xff', { target: { kind: 'setMark', mark: 5, mask: 0xff } }));
    b.add(rule('OUTPUT', '-j CONNMARK --save-mark', { target: { kind: 'connmark', action: 'save' } }));
    b.add(rule('OUTPUT', '-j MARK --set-mark 0', { target: { kind: 'setMark', mark: 0 } }));
    b.add(rule('OUTPUT', '-j CONNMARK --restore-mark', { target: { kind: 'connmark', action: 'restore' } }));
    b.add(
      rule('OUTPUT', '-m mark --mark 0x5 -g A', {
        matches: [{ kind: 'mark', mark: 5 }],
        target: { kind: 'jump', chain: 'A', goto: true },
      }),
    );
    b.add(rule('OUTPUT', '-j ACCEPT', { target: { kind: 'accept' } }));
    b.add(
      rule('A', '-m bpf --bytecode x -j ACCEPT', {
        matches: [{ kind: 'unknown', text: '-m bpf --bytecode x' }],
        target: { kind: 'accept' },
      }),
    );
    b.add(rule('A', '-j LOG', { target: { kind: 'unknown', name: 'LOG', text: '-j LOG' } }));
    const r = walk(b.build(), connection);
    expect(r.outcome).toBe('drop');
    expect(r.decidedBy.rule).toBe('-P OUTPUT DROP');
    expect(r.final.mark).toBe(5);
    expect(r.notes).toEqual([
      'unknown match `-m bpf --bytecode x`: assuming no match',
      'target `-j LOG` is not modelled: the walk goes on past it',
    ]);
    expect(r.path.map((s) => s.rule)).not.toContain('-A OUTPUT -j ACCEPT');
  });

  it('a jump returns to the next rule; a jump to a missing chain is noted; DROP ends the walk', () => {
    const b = new TablesBuilder();
    b.add(rule('OUTPUT', '-j B', { target: { kind: 'jump', chain: 'B' } }));
    b.add(rule('OUTPUT', '-j MISSING', { target: { kind: 'jump', chain: 'MISSING' } }));
    b.add(
      rule('OUTPUT', '-p tcp -j DROP', { matches: [{ kind: 'protocol', protocol: 'tcp' }], target: { kind: 'drop' } }),
    );
    b.add(rule('B', '-j RETURN', { target: { kind: 'return' } }));
    b.add(rule('B', '-j DROP', { target: { kind: 'drop' } }));
    const r = walk(b.build(), connection);
    expect(r.path.map((s) => s.rule)).toEqual([
      '-A OUTPUT -j B',
      '-A B -j RETURN',
      '-A OUTPUT -j MISSING',
      '-A OUTPUT -p tcp -j DROP',
    ]);
    expect(r.outcome).toBe('drop');
    expect(r.notes).toEqual(['mangle MISSING does not exist: the jump to it is taken as a no-op']);
  });
});
