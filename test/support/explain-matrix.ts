/**
 * The matrix explain's kernel tests share (test/explain.kernel.test.ts for iptables,
 * test/explain-nft.kernel.test.ts for native nftables): capture settings, the flows opened for
 * each, how a landing reads in explain's terms, and `explain --live` run as a process.
 */
import { execa } from 'execa';
import { expect } from 'vitest';
import { BIN } from './kernel.js';
import { APP, NET, PROXY, PROXY_GROUP_ONLY, ROOT, type Addresses, type Mode, type Side, type Who } from './traffic.js';

export interface Setting {
  readonly name: string;
  readonly mode: Mode;
  /** Besides the ports and owners every setting has; `nic` is the pod's second link. */
  readonly args: (nic: string) => string[];
  /** Whether the VM's traffic (from the peer over the second link, to nobody's address) is a flow. */
  readonly vm?: true;
}

/** All inbound but 9090, all outbound but ext2 and port 8443, all DNS captured. */
const ALL_BUT_EXCLUDED = [
  '-b',
  '*',
  '-d',
  '9090',
  '-i',
  '*',
  '-x',
  `${NET.ipv4.ext2}/32,${NET.ipv6.ext2}/128`,
  '-o',
  '8443',
  '--redirect-dns',
  '--capture-all-dns',
];

export const SETTINGS: readonly Setting[] = [
  {
    name: 'REDIRECT, all inbound but 9090, all outbound but ext2 and 8443, DNS captured',
    mode: 'REDIRECT',
    args: () => ALL_BUT_EXCLUDED,
  },
  {
    name: 'TPROXY, the same, compact rules, drop-invalid',
    mode: 'TPROXY',
    args: () => [...ALL_BUT_EXCLUDED, '--drop-invalid', '--compact-rules'],
  },
  {
    name: 'TPROXY strict, inbound 8080 only, outbound port 80 only, no DNS',
    mode: 'TPROXY',
    args: () => ['-b', '8080', '-q', '80', '-i', '', '--strict'],
  },
  {
    name: 'REDIRECT, outbound to ext only, owner group 1337 excluded, second link excluded (-c)',
    mode: 'REDIRECT',
    args: (nic) => [
      '-b',
      '8080,15008',
      '-i',
      `${NET.ipv4.ext}/32,${NET.ipv6.ext}/128`,
      '--outbound-owner-groups-exclude',
      '1337',
      '-c',
      nic,
    ],
  },
  {
    name: 'REDIRECT, the second link a KubeVirt interface (-k)',
    mode: 'REDIRECT',
    args: (nic) => ['-b', '*', '-i', '*', '-k', nic],
    vm: true,
  },
  {
    name: 'TPROXY, the second link a KubeVirt interface (-k)',
    mode: 'TPROXY',
    args: (nic) => ['-b', '*', '-i', '*', '-k', nic],
    vm: true,
  },
];

export const common = (mode: Mode) => ['-p', '15001', '-z', '15006', '-u', '1337', '-g', '1337', '-m', mode];

export interface Flow {
  readonly what: string;
  readonly from: Side;
  readonly who: Who;
  readonly proto: 'tcp' | 'udp';
  readonly to: readonly [host: string, port: number];
  /** explain's connection flags for it. */
  readonly explain: readonly string[];
}

/** Every flow, for one family; `main`/`second` are the pod's links. */
export function flows(n: Addresses, main: string, second: string, vm: boolean): Flow[] {
  const at = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
  const out = (what: string, who: Who, proto: 'tcp' | 'udp', host: string, port: number, via: string): Flow => {
    const id = who === ROOT ? { uid: 0, gid: 0 } : who;
    return {
      what,
      from: 'pod',
      who,
      proto,
      to: [host, port],
      explain: [
        '--protocol',
        proto,
        '--dst',
        at(host, port),
        '--uid',
        String(id.uid),
        '--gid',
        String(id.gid),
        '--out-interface',
        via,
      ],
    };
  };
  const inbound = (what: string, host: string, port: number, via: string): Flow => ({
    what,
    from: 'peer',
    who: ROOT,
    proto: 'tcp',
    to: [host, port],
    explain: ['--direction', 'inbound', '--src', n.peer, '--dst', at(host, port), '--in-interface', via],
  });
  return [
    out('app → ext:80', APP, 'tcp', n.ext, 80, main),
    out('app → ext2:80', APP, 'tcp', n.ext2, 80, main),
    out('app → ext:8443', APP, 'tcp', n.ext, 8443, main),
    out('app → localhost:8080', APP, 'tcp', n.loopback, 8080, 'lo'),
    out('app → pod IP:8080', APP, 'tcp', n.pod, 8080, 'lo'),
    out('app → resolver:53 tcp', APP, 'tcp', n.peer, 53, main),
    out('app → resolver:53 udp', APP, 'udp', n.peer, 53, main),
    out('root → ext:80', ROOT, 'tcp', n.ext, 80, main),
    out('proxy → ext:80', PROXY, 'tcp', n.ext, 80, main),
    out('proxy → pod IP:8080', PROXY, 'tcp', n.pod, 8080, 'lo'),
    out('proxy → resolver:53 udp', PROXY, 'udp', n.peer, 53, main),
    out('gid 1337 → ext:80', PROXY_GROUP_ONLY, 'tcp', n.ext, 80, main),
    inbound('peer → pod:8080', n.pod, 8080, main),
    inbound('peer → pod:9090', n.pod, 9090, main),
    inbound('peer → pod:15008', n.pod, 15008, main),
    inbound('peer → pod2:8080 (second link)', n.pod2, 8080, second),
    // The peer routes nobody's address to the pod over the second link: a VM's outbound traffic.
    ...(vm ? [inbound('VM → nowhere:80 (second link)', n.nowhere, 80, second)] : []),
  ];
}

/** Where a connection landed, in explain's terms, from the listener's answer. */
export function landed(line: string, mode: Mode): { outcome: string; toPort?: number } {
  const [name = '', orig = ''] = line.split(' ');
  const origPort = Number(/:(\d+)$/.exec(orig)?.[1]);
  switch (name) {
    case 'proxy15001':
      return { outcome: 'redirect', toPort: 15001 };
    case 'dns15053':
      return { outcome: 'redirect', toPort: 15053 };
    case 'proxy15006':
      // A transparent listener (TPROXY mode) reports its local address: the original
      // destination when TPROXY delivered it, port 15006 when nat redirected it.
      return { outcome: mode === 'TPROXY' && origPort !== 15006 ? 'tproxy' : 'redirect', toPort: 15006 };
    case 'NO-REPLY':
      return { outcome: 'drop' };
    default:
      return { outcome: 'accept' };
  }
}

export type Doc = {
  outcome: string;
  toPort?: number;
  flow?: string;
  decidedBy: { table: string; chain: string; position?: number };
  path: unknown[];
};
export const verdicts = (docs: readonly Doc[]) =>
  docs.map((d) => ({
    flow: d.flow,
    outcome: d.outcome,
    toPort: d.toPort,
    by: [d.decidedBy.table, d.decidedBy.chain, d.decidedBy.position],
    tried: d.path.length,
  }));

/** Runs `explain --live` as a process, opens the connection once it says it traces, and returns its JSON. */
export async function traced(
  explainArgs: readonly string[],
  open: () => Promise<string>,
  leftovers: () => Promise<string>,
) {
  const child = execa(BIN, ['explain', ...explainArgs, '--live', '--live-seconds', '20', '--json'], {
    reject: false,
    stdin: 'ignore',
  });
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('tracing for up to')) resolve();
    });
    void child.then((r) => reject(new Error(`explain --live ended before tracing (${r.exitCode}): ${stderr}`)));
  });
  const landedOn = await open();
  const result = await child;
  expect(result.exitCode, String(result.stderr)).toBe(0);
  // The trace rule (or table) is gone, whatever the tracer.
  expect(await leftovers()).not.toMatch(/explain[ -]trace/);
  return { landedOn, doc: JSON.parse(String(result.stdout)) as TracedDoc };
}

export type TracedDoc = {
  outcome: string;
  tracer?: string;
  path: { table: string; chain: string; rule: string; matched: boolean }[];
  trace: { table: string; chain: string; kind: string; verdict: string; rule?: string }[] | { unavailable: string };
};
