/**
 * --compact-rules in the kernel: the merged and grouped rules are accepted by both backends,
 * read back as planned (so re-runs change nothing), and the limit warnings reach stderr.
 */
import { describe, expect, test } from 'vitest';
import { kernelSkipReason, runTool, withNamespace } from './support/kernel.js';

const ARGS = [
  '-m',
  'TPROXY',
  '-b',
  '80,81,82,443,8080:8090,9000',
  '-i',
  '10.0.0.0/24,10.0.1.0/24,fd00::/9,fd80::/9',
  '-x',
  '192.0.2.0/25,192.0.2.128/25,2001:db8::/33,2001:db8:8000::/33',
  '-o',
  '1000,1001,2000',
  '-q',
  '3306,5432',
  '-u',
  '1337',
  '--enable-inbound-ipv6=true',
  '--compact-rules',
];

describe.skipIf(kernelSkipReason)('--compact-rules in a namespace', () => {
  for (const backend of ['nft', 'legacy']) {
    test(`${backend}: applies, reads back as planned, and a re-run changes nothing`, async () => {
      await withNamespace(`compact-${backend}`, async (ns) => {
        const args = [...ARGS, '--force-iptables-binary', backend, '--network-namespace', ns.path];
        const first = await runTool(args);
        expect(first.code, first.stderr).toBe(0);
        expect(first.stderr).toContain('\tinfo\t--compact-rules: 62 rules instead of 96\n');
        expect(await ns.save(`iptables-${backend}`)).toContain(
          '-A ISTIO_INBOUND -p tcp -m multiport --dports 80:82,443,8080:8090,9000 -j ISTIO_TPROXY',
        );
        const again = await runTool(args);
        expect(again.code, again.stderr).toBe(0);
        expect(again.stderr).toContain(`ipv4 (${backend}): the live rules already match the plan; nothing to do`);
        expect(again.stderr).toContain(`ipv6 (${backend}): the live rules already match the plan; nothing to do`);
      });
    });
  }

  test('warns before applying a payload over 8 KiB and a chain over 1 000 rules', async () => {
    await withNamespace('limits', async (ns) => {
      const many = Array.from({ length: 1100 }, (_, i) => `198.18.${i >> 7}.${(i & 127) * 2}/32`).join(',');
      const result = await runTool([
        '-u',
        '1337',
        '-i',
        '*',
        '-x',
        many,
        '--enable-inbound-ipv6=false',
        '--force-iptables-binary',
        'nft',
        '--network-namespace',
        ns.path,
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/\twarn\tipv4: the restore payload is [0-9,]+ bytes, over 8,192/m);
      expect(result.stderr).toContain('\twarn\tipv4: nat ISTIO_OUTPUT has 1,109 rules, over 1,000');
    });
  });
});
