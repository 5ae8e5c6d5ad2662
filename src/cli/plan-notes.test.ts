/** The CLI's stderr notes about a plan: compaction's rule count, and limit warnings. */
import { describe, expect, it } from 'vitest';
import { logMessages, runCli } from '../../test/support/cli.js';

const BASE = [
  '--dry-run',
  '-p',
  '15001',
  '-z',
  '15006',
  '-u',
  '1337',
  '-m',
  'REDIRECT',
  '-i',
  '*',
  '-b',
  '*',
  '--enable-inbound-ipv6=false',
];
const many = (n: number) => Array.from({ length: n }, (_, i) => `198.18.${i >> 7}.${(i & 127) * 2}/32`).join(',');

describe('plan notes on stderr', () => {
  it('says nothing for an ordinary run', async () => {
    const result = await runCli([...BASE, '-x', '', '-d', '15090,15021,15020']);
    expect(result.code).toBe(0);
    expect(logMessages(result.stderr)).toEqual([]);
  });

  it('warns about a large payload and a long chain, and names --compact-rules', async () => {
    const result = await runCli([...BASE, '-x', many(1100)]);
    expect(result.code).toBe(0);
    expect(logMessages(result.stderr)).toEqual([
      expect.stringMatching(/^warn: ipv4: the restore payload is [0-9,]+ bytes, over 8,192: /),
      'warn: ipv4: nat ISTIO_OUTPUT has 1,109 rules, over 1,000: each new connection walks them in order',
      'info: hint: --compact-rules merges CIDR lists and groups port lists into fewer rules, with the same effect',
    ]);
  });

  it('reports the rule count before and after --compact-rules (flag or env)', async () => {
    const ports = Array.from({ length: 40 }, (_, i) => String(8000 + i)).join(',');
    const argv = [
      '--dry-run',
      '-u',
      '1337',
      '-i',
      '*',
      '--enable-inbound-ipv6=false',
      '-b',
      ports,
      '-x',
      '192.0.2.0/25,192.0.2.128/25',
    ];
    const plain = await runCli(argv);
    const flag = await runCli([...argv, '--compact-rules']);
    const env = await runCli(argv, { ISTIO_IPTABLES_COMPACT_RULES: 'true' });
    expect(logMessages(plain.stderr)).toEqual([]);
    expect(logMessages(flag.stderr)).toEqual(['info: --compact-rules: 16 rules instead of 56']);
    expect(logMessages(env.stderr)).toEqual(logMessages(flag.stderr));
    expect(env.stdout).toBe(flag.stdout);
    expect(flag.stdout).toContain('-A ISTIO_INBOUND -p tcp --dport 8000:8039 -j ISTIO_IN_REDIRECT\n');
    expect(flag.stdout).toContain('-A ISTIO_OUTPUT -d 192.0.2.0/24 -j RETURN\n');
  });

  it('says nothing for --cleanup-only', async () => {
    const result = await runCli([...BASE, '-x', many(1100), '--cleanup-only']);
    expect(logMessages(result.stderr)).toEqual([]);
  });
});
