/**
 * `--compact-rules` must change how many rules there are, never what they do. Checked three
 * ways: the merged lists cover exactly the same addresses and ports (exhaustively on small
 * spaces, against ip-num's aggregation as an oracle), and whole plans with and without
 * compaction send every generated packet to the same place, chain by chain.
 * Longer than ~200 lines because the packet walker that checks plans is part of the test.
 */
import { IPv4CidrRange, Pool } from 'ip-num';
import { describe, expect, it } from 'vitest';
import type { CaptureConfig } from '../config/capture-config.js';
import type { IpFamily } from '../model/family.js';
import type { Match, Ruleset, Target } from '../model/netfilter.js';
import { parseCidr, type Cidr, type PortRange } from '../model/network.js';
import { destinationPortMatches, groupPorts, mergeCidrs, mergePorts, MULTIPORT_SLOTS } from './compact.js';
import { planCapture } from './plan-capture.js';
import { REDIRECT_IPV4 } from '../../test/support/capture-config.js';

function random(seed: number) {
  return (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
}

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (typeof parsed === 'string') throw new Error(`${text}: ${parsed}`);
  return parsed;
}

function contains(block: Cidr, family: IpFamily, value: bigint): boolean {
  const host = BigInt((family === 'ipv4' ? 32 : 128) - block.prefixLength);
  return block.family === family && block.address.value >> host === value >> host;
}

const texts = (cidrs: readonly Cidr[]) => cidrs.map((c) => c.text);

describe('mergeCidrs', () => {
  it.each([
    [['10.0.0.0/24', '10.0.1.0/24'], ['10.0.0.0/23']],
    [
      ['10.0.1.0/24', '10.0.2.0/24'],
      ['10.0.1.0/24', '10.0.2.0/24'],
    ],
    [['10.0.0.0/8', '10.1.2.0/24', '10.0.0.0/8'], ['10.0.0.0/8']],
    [['10.0.0.1/8'], ['10.0.0.0/8']],
    [['192.0.2.0/25', '192.0.2.128/26', '192.0.2.192/26'], ['192.0.2.0/24']],
    [['0.0.0.0/1', '128.0.0.0/1'], ['0.0.0.0/0']],
    [
      ['fd00::/9', '10.0.0.0/8', 'fd80::/9', '::1/128'],
      ['10.0.0.0/8', '::1/128', 'fd00::/8'],
    ],
    [
      ['::ffff:10.0.0.0/120', '10.0.0.0/24'],
      ['10.0.0.0/24', '::ffff:10.0.0.0/120'],
    ],
    [[], []],
  ])('%j → %j', (input, expected) => {
    expect(texts(mergeCidrs(input.map(cidr)))).toEqual(expected);
  });

  it('covers exactly the same addresses (every address of 10.0.0.0/20, 300 random lists)', () => {
    const rnd = random(7);
    for (let round = 0; round < 300; round++) {
      const input = Array.from({ length: 1 + rnd(12) }, () => {
        const length = 20 + rnd(13);
        const offset = rnd(4096);
        return cidr(`10.0.${offset >> 8}.${offset & 255}/${length}`);
      });
      const merged = mergeCidrs(input);
      const differ = Array.from({ length: 4096 }, (_, offset) => (10n << 24n) | BigInt(offset)).filter(
        (value) => merged.some((c) => contains(c, 'ipv4', value)) !== input.some((c) => contains(c, 'ipv4', value)),
      );
      expect(differ).toEqual([]);
      // Minimal: no two results could be one prefix, and none overlap.
      for (let i = 1; i < merged.length; i++)
        expect(merged[i - 1]!.address.value < merged[i]!.address.value).toBe(true);
    }
  });

  // ip-num's aggregate keeps nested prefixes that start at the same address (10.0.0.0/12 beside
  // 10.0.0.0/8), so those are dropped from its input; its merging of the rest is the oracle.
  it("gives the prefixes of ip-num's Pool.aggregate (200 random IPv4 lists)", () => {
    const rnd = random(11);
    for (let round = 0; round < 200; round++) {
      const input = Array.from({ length: 1 + rnd(10) }, () => {
        const length = 8 + rnd(25);
        const a = rnd(4);
        const b = rnd(256);
        return cidr(`10.${a}.${b}.0/${length}`);
      });
      // ip-num wants masked prefixes: mask each through a merge of one.
      const blocks = input.map((c) => mergeCidrs([c])[0]!);
      const outer = blocks.filter(
        (c, i) =>
          !blocks.some(
            (o, j) =>
              j !== i &&
              o.prefixLength <= c.prefixLength &&
              contains(o, 'ipv4', c.address.value) &&
              (o.prefixLength < c.prefixLength || j < i),
          ),
      );
      const masked = outer.map((c) => c.text);
      const pool = Pool.fromCidrRanges(masked.map((text) => IPv4CidrRange.fromCidr(text)));
      const oracle = pool
        .aggregate()
        .getRanges()
        .map((range) => cidr(range.toCidrRange().toCidrString()));
      const ours = mergeCidrs(input);
      expect(ours.map((c) => c.address.value)).toEqual(oracle.map((c) => c.address.value));
      expect(ours.map((c) => c.prefixLength)).toEqual(oracle.map((c) => c.prefixLength));
    }
  });
});

describe('mergePorts and groupPorts', () => {
  const range = (first: number, last = first): PortRange => ({ first, last });

  it('merges duplicates, overlaps and neighbours', () => {
    expect(
      mergePorts([range(443), range(80), range(81), range(80), range(1000, 2000), range(1500, 2500), range(2501)]),
    ).toEqual([range(80, 81), range(443), range(1000, 2501)]);
  });

  it('fills groups up to 15 slots, a range taking two', () => {
    const ports = [...Array.from({ length: 14 }, (_, i) => range(100 + 2 * i)), range(1000, 1001), range(3000)];
    const groups = groupPorts(ports);
    expect(groups.map((g) => g.length)).toEqual([14, 2]);
    for (const group of groups)
      expect(group.reduce((n, p) => n + (p.first === p.last ? 1 : 2), 0)).toBeLessThanOrEqual(MULTIPORT_SLOTS);
    expect(groupPorts(Array.from({ length: 31 }, (_, i) => range(2 * i + 1))).map((g) => g.length)).toEqual([
      15, 15, 1,
    ]);
  });

  it('keeps a single port or range as --dport, and leaves lists alone without compaction', () => {
    expect(destinationPortMatches([range(80), range(80)], true)).toEqual([
      { kind: 'destinationPort', port: range(80) },
    ]);
    expect(destinationPortMatches([range(80), range(80)], false)).toEqual([
      { kind: 'destinationPort', port: range(80) },
      { kind: 'destinationPort', port: range(80) },
    ]);
  });

  it('matches exactly the same ports (every port, 200 random lists)', () => {
    const rnd = random(3);
    for (let round = 0; round < 200; round++) {
      const input = Array.from({ length: rnd(40) }, () => {
        const first = 1 + rnd(2000);
        return rnd(4) === 0 ? range(first, first + rnd(50)) : range(first);
      });
      const matches = destinationPortMatches(input, true);
      const allowed = (port: number, m: Match) =>
        m.kind === 'destinationPort'
          ? m.port.first <= port && port <= m.port.last
          : m.kind === 'multiport' && m.ports.some((p) => p.first <= port && port <= p.last);
      const differ = Array.from({ length: 2100 }, (_, i) => i + 1).filter(
        (port) => matches.some((m) => allowed(port, m)) !== input.some((p) => p.first <= port && port <= p.last),
      );
      expect(differ).toEqual([]);
    }
  });
});

/** A packet, as far as the planned rules can tell packets apart. */
interface Packet {
  readonly protocol: 'tcp' | 'udp';
  readonly destination: bigint;
  readonly source: bigint;
  readonly port: number;
  readonly sourcePort: number;
  readonly inInterface: string;
  readonly outInterface: string;
  readonly uid: string;
  readonly gid: string;
  readonly mark: number;
  readonly state: 'NEW' | 'ESTABLISHED';
}

function matches(family: IpFamily, m: Match, p: Packet): boolean {
  const inRange = (r: PortRange, port: number) => r.first <= port && port <= r.last;
  const negate = (negated: true | undefined, value: boolean) => (negated ? !value : value);
  switch (m.kind) {
    case 'protocol':
      return p.protocol === m.protocol;
    case 'source':
      return negate(m.negated, contains(cidr(m.cidr.text), family, p.source));
    case 'destination':
      return negate(m.negated, contains(cidr(m.cidr.text), family, p.destination));
    case 'inInterface':
      return p.inInterface === m.name;
    case 'outInterface':
      return p.outInterface === m.name;
    case 'destinationPort':
      return negate(m.negated, inRange(m.port, p.port));
    case 'sourcePort':
      return inRange(m.port, p.sourcePort);
    case 'multiport':
      return negate(
        m.negated,
        m.ports.some((r) => inRange(r, p.port)),
      );
    case 'owner':
      return negate(m.negated, (m.owner === 'uid' ? p.uid : p.gid) === m.id);
    case 'mark':
      return negate(m.negated, p.mark === m.mark);
    case 'connmark':
      return p.mark === m.mark;
    case 'conntrack':
      return (m.states as readonly string[]).includes(p.state);
    default:
      throw new Error('unknown match');
  }
}

/** Each chain's rules in kernel order (appends and inserts replayed). */
function chains(ruleset: Ruleset): Map<string, { matches: readonly Match[]; target: Target }[]> {
  const out = new Map<string, { matches: readonly Match[]; target: Target }[]>();
  for (const op of ruleset.ops) {
    const key = `${op.rule.table}/${op.rule.chain}`;
    const list = out.get(key) ?? [];
    if (op.op === 'append') list.push(op.rule);
    else list.splice(op.position - 1, 0, op.rule);
    out.set(key, list);
  }
  return out;
}

/** Per chain, the target of the first rule each packet matches (or "falls through"). */
function verdicts(ruleset: Ruleset, packets: readonly Packet[]): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const [key, rules] of chains(ruleset)) {
    result[key] = packets.map((packet) =>
      JSON.stringify(
        rules.find((rule) => rule.matches.every((m) => matches(ruleset.family, m, packet)))?.target ?? 'fall through',
      ),
    );
  }
  return result;
}

const BASE: CaptureConfig = { ...REDIRECT_IPV4, families: ['ipv4', 'ipv6'] };

describe('planning with --compact-rules', () => {
  const rnd = random(42);
  const v4 = (a: number, b: number) => (192n << 24n) | (0n << 16n) | (BigInt(a) << 8n) | BigInt(b);
  const packets = (family: IpFamily): Packet[] =>
    Array.from({ length: 400 }, () => ({
      protocol: rnd(2) ? 'tcp' : 'udp',
      destination:
        family === 'ipv4'
          ? rnd(8) === 0
            ? (127n << 24n) | 1n
            : v4(rnd(4), rnd(256))
          : (0x20010db8n << 96n) | BigInt(rnd(1024)),
      source: family === 'ipv4' ? v4(rnd(4), rnd(256)) : BigInt(rnd(8)),
      port: [80, 81, 443, 1000, 1500, 2000, 3000, 15001, 15006, 15008, 15090, 53][rnd(12)]! + rnd(3),
      sourcePort: 1 + rnd(60000),
      inInterface: ['eth0', 'lo', 'vnet0'][rnd(3)]!,
      outInterface: ['eth0', 'lo'][rnd(2)]!,
      uid: ['1337', '0', '1000'][rnd(3)]!,
      gid: ['1337', '0', '1000'][rnd(3)]!,
      mark: [0, 1337, 1338][rnd(3)]!,
      state: rnd(2) ? 'NEW' : 'ESTABLISHED',
    }));
  const cidrs = (texts: string[]) => texts.map(cidr);
  const range = (first: number, last = first): PortRange => ({ first, last });
  const ports = [
    range(80),
    range(81),
    range(80),
    range(443),
    range(1000, 2000),
    range(1500),
    range(3000),
    ...Array.from({ length: 20 }, (_, i) => range(20000 + 3 * i)),
  ];

  const cases: [string, CaptureConfig][] = [
    [
      'REDIRECT, CIDR lists and every port list',
      {
        ...BASE,
        inbound: { ...BASE.inbound, ports: { kind: 'all', except: ports } },
        outbound: {
          ...BASE.outbound,
          cidrs: {
            include: cidrs([
              '192.0.0.0/24',
              '192.0.1.0/24',
              '192.0.1.5/32',
              '2001:db8::/119',
              '2001:db8::200/119',
              '127.0.0.0/8',
            ]),
            exclude: cidrs([
              '192.0.2.0/25',
              '192.0.2.128/25',
              '192.0.3.7/32',
              '192.0.3.8/29',
              '2001:db8::100/120',
              '2001:db8::100/121',
            ]),
          },
          ports: { include: ports, exclude: [range(3000), range(15090), range(15090), range(15091)] },
        },
        interfaces: { exclude: [], virtual: ['vnet0'] },
      },
    ],
    [
      'TPROXY with an inbound port list',
      {
        ...BASE,
        inbound: {
          ...BASE.inbound,
          ports: { kind: 'only', items: ports },
          interception: { mode: 'tproxy', mark: 1337, routeTable: 133 },
        },
        outbound: { ...BASE.outbound, cidrs: { include: cidrs(['192.0.0.0/23', '192.0.0.0/24']), exclude: [] } },
      },
    ],
  ];

  it.each(cases)('%s: every chain treats every packet the same, with fewer rules', (_title, config) => {
    const plain = planCapture(config);
    const compact = planCapture({ ...config, compactRules: true });
    for (const [index, ruleset] of plain.rulesets.entries()) {
      const other = compact.rulesets[index]!;
      expect(other.family).toBe(ruleset.family);
      expect(other.ops.length).toBeLessThan(ruleset.ops.length);
      const sample = packets(ruleset.family);
      expect(verdicts(other, sample)).toEqual(verdicts(ruleset, sample));
    }
    expect(compact.network).toEqual(plain.network);
  });

  it('changes nothing when off', () => {
    for (const [, config] of cases)
      expect(planCapture(config)).toEqual(planCapture({ ...config, compactRules: false }));
  });
});
