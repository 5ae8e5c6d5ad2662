/**
 * A namespace reconfigured: a run with one configuration, then a run with another, must leave
 * exactly what the second alone leaves (rules of both backends, ip rules, route tables), and
 * --cleanup-only must leave only what was there before either; foreign rules in every built-in
 * chain — near-misses of our shapes among them — stay, in their order. Both backends.
 */
import { describe, expect, test } from 'vitest';
import { kernelSkipReason, type Namespace, runTool, withNamespace } from './support/kernel.js';

const BACKENDS = ['nft', 'legacy'] as const;
const BASE = ['-p', '15001', '-z', '15006', '-u', '1337', '-g', '1337', '-i', '*', '-b', '*', '-d', '15090'];
const REDIRECT = [...BASE, '-m', 'REDIRECT', '--enable-inbound-ipv6=true'];
const TPROXY = [...BASE, '-m', 'TPROXY', '-t', '1337', '-r', '133', '--enable-inbound-ipv6=true'];
const DNS = ['--redirect-dns', '--capture-all-dns'];
const INTERFACES = ['-c', 'eth9', '-k', 'vnet0'];

/** Rules of others in every built-in chain: some plain, some one detail away from a shape of ours. */
const FOREIGN: readonly (readonly string[])[] = [
  ['-t', 'raw', '-A', 'PREROUTING', '-s', '203.0.113.7/32', '-j', 'ACCEPT'],
  ['-t', 'raw', '-A', 'OUTPUT', '-p', 'udp', '--dport', '54', '-j', 'CT', '--zone', '2'],
  ['-t', 'mangle', '-A', 'PREROUTING', '-p', 'udp', '-m', 'mark', '--mark', '1337', '-j', 'CONNMARK', '--save-mark'],
  ['-t', 'mangle', '-A', 'INPUT', '-s', '203.0.113.7/32', '-j', 'ACCEPT'],
  ['-t', 'mangle', '-A', 'FORWARD', '-s', '203.0.113.7/32', '-j', 'ACCEPT'],
  ['-t', 'mangle', '-A', 'OUTPUT', '-o', 'lo', '-p', 'tcp', '-m', 'mark', '--mark', '1337', '-j', 'ACCEPT'],
  ['-t', 'mangle', '-A', 'POSTROUTING', '-s', '203.0.113.7/32', '-j', 'ACCEPT'],
  ['-t', 'nat', '-A', 'PREROUTING', '-i', 'eth7', '-p', 'tcp', '-j', 'RETURN'],
  ['-t', 'nat', '-A', 'INPUT', '-s', '203.0.113.7/32', '-j', 'ACCEPT'],
  ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', '198.51.100.0/25', '-j', 'RETURN'],
  ['-t', 'nat', '-A', 'POSTROUTING', '-s', '192.0.2.0/24', '-j', 'MASQUERADE'],
  ['-t', 'filter', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP'],
];

/** Rules Istio 1.20 wrote straight into built-in chains (DNS, drop-invalid, trace-logging twins). */
const ISTIO_1_20: readonly (readonly string[])[] = [
  [
    '-t',
    'nat',
    '-A',
    'PREROUTING',
    '-p',
    'tcp',
    '-j',
    'NFLOG',
    '--nflog-prefix',
    'JumpInbound',
    '--nflog-group',
    '1337',
    '--nflog-size',
    '20',
  ],
  [
    '-t',
    'nat',
    '-A',
    'OUTPUT',
    '-p',
    'tcp',
    '-j',
    'NFLOG',
    '--nflog-prefix',
    'JumpOutbound',
    '--nflog-group',
    '1337',
    '--nflog-size',
    '20',
  ],
  ['-t', 'nat', '-A', 'OUTPUT', '-p', 'udp', '--dport', '53', '-m', 'owner', '--uid-owner', '1337', '-j', 'RETURN'],
  [
    '-t',
    'raw',
    '-A',
    'OUTPUT',
    '-p',
    'udp',
    '--dport',
    '53',
    '-m',
    'owner',
    '--uid-owner',
    '1337',
    '-j',
    'CT',
    '--zone',
    '1',
  ],
  [
    '-t',
    'raw',
    '-A',
    'OUTPUT',
    '-p',
    'udp',
    '--sport',
    '15053',
    '-m',
    'owner',
    '--uid-owner',
    '1337',
    '-j',
    'CT',
    '--zone',
    '2',
  ],
  ['-t', 'raw', '-A', 'OUTPUT', '-p', 'udp', '--dport', '53', '-j', 'CT', '--zone', '2'],
  ['-t', 'raw', '-A', 'PREROUTING', '-p', 'udp', '--sport', '53', '-j', 'CT', '--zone', '1'],
  ['-t', 'mangle', '-A', 'PREROUTING', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP'],
];

/** Everything a run may change, as text: both backends' rules, ip rules, the route tables used here. */
async function snapshot(ns: Namespace): Promise<string> {
  const parts: string[] = [];
  for (const binary of ['iptables-nft', 'ip6tables-nft', 'iptables-legacy', 'ip6tables-legacy']) {
    // Tables without rules (left by state reads) are no one's state; legacy orders tables by first use.
    const tables = (await ns.save(binary)).split(/(?=^\*)/m).filter((t) => /^(-A |:ISTIO)/m.test(t));
    parts.push(`## ${binary}`, ...tables.sort());
  }
  for (const six of [[], ['-6']]) {
    parts.push((await ns.exec('ip', [...six, 'rule'])).stdout);
    for (const table of ['133', '134'])
      parts.push(
        `## ${six.join('')} table ${table}`,
        (await ns.exec('ip', [...six, 'route', 'show', 'table', table], { reject: false })).stdout,
      );
  }
  return parts.join('\n').replace(/\n+/g, '\n');
}

async function addForeign(ns: Namespace, backend: string) {
  for (const rule of FOREIGN) {
    await ns.exec(`iptables-${backend}`, ['-w', ...rule]);
    if (!rule.includes('203.0.113.7/32') && !rule.includes('198.51.100.0/25') && !rule.includes('192.0.2.0/24'))
      await ns.exec(`ip6tables-${backend}`, ['-w', ...rule]);
  }
}

async function run(ns: Namespace, backend: string, args: readonly string[]) {
  const result = await runTool([...args, '--force-iptables-binary', backend, '--network-namespace', ns.path]);
  expect(result.code, result.stderr).toBe(0);
}

/** The state of a namespace with the foreign rules and then the given runs. */
function stateAfter(backend: string, runs: readonly (readonly string[])[]): Promise<string> {
  return withNamespace('reconf', async (ns) => {
    await addForeign(ns, backend);
    for (const args of runs) await run(ns, backend, args);
    return snapshot(ns);
  });
}

const CHANGES: readonly { name: string; from: readonly string[]; to: readonly string[] }[] = [
  { name: 'TPROXY → REDIRECT', from: TPROXY, to: REDIRECT },
  { name: 'DNS on → off', from: [...TPROXY, ...DNS], to: TPROXY },
  { name: 'drop-invalid on → off', from: [...REDIRECT, '--drop-invalid'], to: REDIRECT },
  {
    name: 'a changed TPROXY mark and route table',
    from: TPROXY,
    to: [...BASE, '-m', 'TPROXY', '-t', '1400', '-r', '134', '--enable-inbound-ipv6=true'],
  },
  {
    name: 'a changed TPROXY route table',
    from: TPROXY,
    to: [...BASE, '-m', 'TPROXY', '-t', '1337', '-r', '134', '--enable-inbound-ipv6=true'],
  },
  { name: '-c / -k interfaces removed', from: [...TPROXY, ...INTERFACES], to: TPROXY },
];

describe.skipIf(kernelSkipReason)('reconfiguring a namespace leaves exactly the new plan', () => {
  for (const backend of BACKENDS) {
    for (const change of CHANGES) {
      test(`${backend}: ${change.name}`, async () => {
        const fresh = await stateAfter(backend, [change.to]);
        const before = await stateAfter(backend, [change.from]);
        expect(before).not.toBe(fresh);
        expect(await stateAfter(backend, [change.from, change.to])).toBe(fresh);
      });
    }

    test(`${backend}: rules Istio 1.20 wrote into built-in chains are replaced by a run, and removed by --cleanup-only`, async () => {
      const [fresh, foreignOnly] = [await stateAfter(backend, [REDIRECT]), await stateAfter(backend, [])];
      for (const [args, expected] of [
        [REDIRECT, fresh],
        [[...REDIRECT, '--cleanup-only'], foreignOnly],
      ] as const) {
        await withNamespace('istio-1-20', async (ns) => {
          await addForeign(ns, backend);
          for (const rule of ISTIO_1_20) await ns.exec(`iptables-${backend}`, ['-w', ...rule]);
          await run(ns, backend, args);
          expect(await snapshot(ns)).toBe(expected);
        });
      }
    });

    test(`${backend}: --cleanup-only removes everything of an earlier configuration, foreign rules stay`, async () => {
      const foreignOnly = await stateAfter(backend, []);
      const everything = [
        ...BASE,
        '-m',
        'TPROXY',
        '-t',
        '1400',
        '-r',
        '134',
        '--enable-inbound-ipv6=true',
        ...DNS,
        ...INTERFACES,
        '--drop-invalid',
      ];
      expect(await stateAfter(backend, [everything, [...REDIRECT, '--cleanup-only']])).toBe(foreignOnly);
    });
  }
});
