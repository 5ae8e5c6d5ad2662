/** The CLI's --native-nftables dry runs beyond upstream's cases: notes, cleanup, skip, and values nft reads differently. */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';

const BASE = ['-u', '1337', '--enable-inbound-ipv6=false', '--native-nftables', '--dry-run'];
const cidrs = (n: number) => Array.from({ length: n }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`).join(',');
const transaction = (stdout: string) => stdout.split('\n').filter((line) => line !== '' && !line.startsWith('#'));

describe('--native-nftables --dry-run', () => {
  it('warns about a chain every connection walks, and --compact-rules makes the list one rule', async () => {
    const plain = await runCli([...BASE, '-x', cidrs(1200)]);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toContain('\twarn\tistio-proxy-nat istio-output has 1,208 rules');
    const compact = await runCli([...BASE, '-x', cidrs(1200), '--compact-rules']);
    expect(compact.stderr).toContain('\tinfo\t--compact-rules: 13 rules instead of 1,212');
    expect(compact.stderr).not.toContain('warning');
    const sets = transaction(compact.stdout).filter((line) => line.includes('ip daddr {'));
    expect(sets).toHaveLength(1);
    expect(
      sets[0]?.startsWith('add rule inet istio-proxy-nat istio-output ip daddr { 10.0.0.0/14, 10.4.0.0/17, '),
    ).toBe(true);
  });

  it('prints the header and upstream six cleanup lines for --cleanup-only, and nothing with --skip-rule-apply', async () => {
    const clean = await runCli([...BASE, '--cleanup-only']);
    expect(clean.stdout.split('\n')[0]).toBe('# nft -f -');
    expect(transaction(clean.stdout)).toEqual(
      ['nat', 'mangle', 'raw'].flatMap((t) => [
        `add table inet istio-proxy-${t}`,
        `delete table inet istio-proxy-${t}`,
      ]),
    );
    expect((await runCli([...BASE, '--skip-rule-apply'])).stdout).toBe('');
  });

  it('no value reaches the transaction except as one quoted or bare word on its own line', async () => {
    const result = await runCli([...BASE, '-c', 'a;b', '-k', 'x}{y#', '-b', '8080:8090', '-o', '1000:2000']);
    expect(result.code, result.stderr).toBe(0);
    const lines = transaction(result.stdout);
    expect(
      lines.every((line) =>
        /^(add|flush|insert|delete) (table|chain|rule) inet istio-proxy-(nat|mangle|raw)\b/.test(line),
      ),
    ).toBe(true);
    expect(lines).toContain('add rule inet istio-proxy-nat prerouting iifname "a;b" counter return');
    expect(lines).toContain('insert rule inet istio-proxy-nat prerouting index 0 iifname "x}{y#" counter return');
    expect(lines).toContain(
      'add rule inet istio-proxy-nat istio-inbound meta l4proto tcp tcp dport 8080-8090 counter jump istio-in-redirect',
    );
    expect(lines).toContain('add rule inet istio-proxy-nat istio-output udp dport 1000-2000 counter return');
  });

  it('refuses names that could leave their quotes, before anything runs', async () => {
    const result = await runCli([...BASE, '-c', 'a"b']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('--istio-exclude-interfaces');
  });
});
