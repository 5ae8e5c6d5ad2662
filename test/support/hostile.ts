/**
 * Hostile host states for the failure-mode tests (numbered as in the failure-mode corpus, FAILURE_MODES.md, of the reference material):
 * foreign rules in every table of a namespace, a snapshot of everything that is not ours to
 * compare before and after a run, and stand-in programs on PATH for states this machine
 * cannot have.
 */
import { INJECTOR_FLAGS } from './cli.js';
import { BIN, type Namespace, sh } from './kernel.js';

export type Variant = 'nft' | 'legacy';

/** The injector's default arguments, IPv4 only. */
export const INJECTOR_ARGS = [...INJECTOR_FLAGS, '--enable-inbound-ipv6=false'];

/** A foreign rule in each table and family of a backend (other agents' rules, none ours). */
export async function addForeignRules(ns: Namespace, variant: Variant): Promise<void> {
  for (const prefix of ['iptables', 'ip6tables']) {
    const bin = `${prefix}-${variant}`;
    const w = variant === 'legacy' ? ['-w'] : [];
    await ns.exec(bin, [...w, '-t', 'raw', '-A', 'PREROUTING', '-p', 'udp', '--dport', '4789', '-j', 'NOTRACK']);
    await ns.exec(bin, [
      ...w,
      '-t',
      'mangle',
      '-A',
      'OUTPUT',
      '-p',
      'tcp',
      '--dport',
      '9',
      '-j',
      'MARK',
      '--set-mark',
      '7',
    ]);
    await ns.exec(bin, [...w, '-t', 'filter', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
    await ns.exec(bin, [...w, '-t', 'nat', '-A', 'POSTROUTING', '-p', 'tcp', '--dport', '25', '-j', 'MASQUERADE']);
  }
}

/** An nft-native rule (an anonymous set) in `ip nat`: iptables-nft can no longer show that table. */
export async function addNftNativeNatRule(ns: Namespace): Promise<void> {
  await ns.exec('nft', ['-f', '-'], {
    input: [
      'table ip nat {',
      ' chain POSTROUTING {',
      '  type nat hook postrouting priority 100; policy accept;',
      '  ip saddr 192.0.2.0/24 meta l4proto { tcp, udp } masquerade',
      ' }',
      '}',
      '',
    ].join('\n'),
  });
}

/** Everything in the namespace's netfilter state, both backends, without counters. */
export async function netfilterSnapshot(ns: Namespace): Promise<string> {
  const parts = [`## nft\n${(await ns.exec('nft', ['-s', 'list', 'ruleset'])).stdout}`];
  for (const bin of ['iptables-legacy', 'ip6tables-legacy']) {
    const { stdout } = await ns.exec(`${bin}-save`, [], { reject: false });
    parts.push(
      `## ${bin}`,
      ...stdout
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .map((l) => l.replace(/ \[\d+:\d+\]$/, '')),
    );
  }
  return parts.join('\n');
}

/**
 * The snapshot without empty base chains (`type … hook …; policy accept;` and nothing else):
 * iptables-nft creates a table's base chains when it writes to the table, and undoing a write
 * leaves them, empty and accepting, which no packet notices.
 */
export function withoutEmptyBaseChains(snapshot: string): string {
  return snapshot.replace(/\n\n?\tchain \w+ \{\n\t\ttype \w+ hook \w+ priority [\w-]+; policy accept;\n\t\}/g, '');
}

/** How many lines of the namespace's state name one of our chains. */
export async function istioLines(ns: Namespace): Promise<number> {
  return (await netfilterSnapshot(ns)).split('\n').filter((l) => l.includes('ISTIO')).length;
}

/** The CLI run inside the namespace, as an init container runs it. */
export function runInside(ns: Namespace, args: readonly string[], env: Record<string, string> = {}) {
  return sh('ip', ['netns', 'exec', ns.name, BIN, ...args], { reject: false, env });
}

/**
 * Runs `fn` with a directory of stand-in programs first on PATH: each `name` → shell script
 * body (the real program's path is in $REAL). The directory is removed afterwards.
 */
export async function withStandIns(
  scripts: Readonly<Record<string, string>>,
  fn: (env: Record<string, string>) => Promise<void>,
): Promise<void> {
  const dir = (await sh('mktemp', ['-d'])).stdout.trim();
  try {
    for (const [name, body] of Object.entries(scripts)) {
      const real = (await sh('sh', ['-c', `command -v ${name}`])).stdout.trim();
      await sh('sh', ['-c', 'cat > "$1/$2" && chmod +x "$1/$2"', 'sh', dir, name], {
        input: `#!/bin/sh\nREAL=${real}\n${body}\n`,
      });
    }
    await fn({ PATH: `${dir}:${process.env.PATH ?? ''}` });
  } finally {
    await sh('rm', ['-rf', dir]);
  }
}
