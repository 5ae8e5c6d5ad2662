import { describe, expect, test } from 'vitest';
import type { NetworkStep } from '../plan/routes.js';
import { parseFwmarkRules } from './ip-rule.js';
import { staleRuleCandidates, staleTproxySteps } from './stale-routes.js';

const LISTING = [
  '0:\tfrom all lookup local',
  '32763:\tfrom all fwmark 0x539 lookup 134',
  '32764:\tfrom all fwmark 0x539 lookup 133',
  '32765:\tfrom all fwmark 0x4d2 lookup 133',
  '32766:\tfrom all lookup main',
  '32767:\tfrom all lookup default',
].join('\n');
const OUR_ROUTE = ['local default dev lo scope host'];
const plan = (mark: number, table: number): NetworkStep[] => [
  { kind: 'policyRule', family: 'ipv4', mark, table },
  { kind: 'localRoute', family: 'ipv4', destination: '0.0.0.0/0', table },
];

function stale(listing: string, marks: number[], planned: NetworkStep[], routes: Record<number, string[]>) {
  const candidates = staleRuleCandidates('ipv4', parseFwmarkRules(listing), marks, planned);
  return staleTproxySteps(
    'ipv4',
    listing,
    candidates,
    new Map(Object.entries(routes).map(([t, r]) => [Number(t), r])),
    planned,
  );
}

describe("an earlier TPROXY configuration's policy routing", () => {
  test('a changed table: the old rule and the old table go, the planned ones stay', () => {
    const listing = '32764:\tfrom all fwmark 0x539 lookup 134\n32765:\tfrom all fwmark 0x539 lookup 133\n';
    expect(stale(listing, [1337], plan(1337, 133), { 134: OUR_ROUTE, 133: OUR_ROUTE })).toEqual([
      { kind: 'policyRule', family: 'ipv4', mark: 1337, table: 134 },
      { kind: 'localRoute', family: 'ipv4', destination: '0.0.0.0/0', table: 134 },
    ]);
  });

  test('a changed mark, same table: the old rule goes, the table keeps its route', () => {
    const listing = '32764:\tfrom all fwmark 0x4d2 lookup 133\n32765:\tfrom all fwmark 0x539 lookup 133\n';
    expect(stale(listing, [1234, 1337], plan(1337, 133), { 133: OUR_ROUTE })).toEqual([
      { kind: 'policyRule', family: 'ipv4', mark: 1234, table: 133 },
    ]);
  });

  test('REDIRECT now: every rule of a mark of ours and its table go; a table another rule looks up keeps its route', () => {
    expect(stale(LISTING, [1337, 1234], [], { 133: OUR_ROUTE, 134: [] })).toEqual([
      { kind: 'policyRule', family: 'ipv4', mark: 1337, table: 134 },
      { kind: 'policyRule', family: 'ipv4', mark: 1337, table: 133 },
      { kind: 'policyRule', family: 'ipv4', mark: 1234, table: 133 },
      { kind: 'localRoute', family: 'ipv4', destination: '0.0.0.0/0', table: 133 },
    ]);
    const shared = `${LISTING}\n32000:\tfrom 192.0.2.0/24 lookup 133`;
    expect(stale(shared, [1337, 1234], [], { 133: OUR_ROUTE, 134: [] }).map((s) => s.kind)).toEqual([
      'policyRule',
      'policyRule',
      'policyRule',
    ]);
  });

  test('not ours: a mark no live rule of ours carries, a masked or narrowed rule, a table with other routes', () => {
    expect(stale(LISTING, [99], [], { 133: OUR_ROUTE })).toEqual([]);
    const odd =
      '1:\tfrom all fwmark 0x539/0xff lookup 133\n2:\tfrom 192.0.2.1 fwmark 0x539 lookup 133\n3:\tfrom all fwmark 0x539 lookup 133 proto kernel\n';
    expect(stale(odd, [1337], [], { 133: OUR_ROUTE })).toEqual([]);
    const other = '1:\tfrom all fwmark 0x539 lookup 133\n';
    expect(stale(other, [1337], [], { 133: [...OUR_ROUTE, '198.51.100.0/24 dev eth0 scope link'] })).toEqual([]);
  });
});
