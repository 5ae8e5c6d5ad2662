/**
 * The spellings upstream copies verbatim (one-port and open ranges; padded port, interface and
 * owner items; owner and tunnel-port ranges) in the kernel: both backends accept the payload,
 * the read-back (which iptables-save prints as `--dport 51980`, `0:100`, `1000-2000`) matches
 * the plan, a re-run changes nothing, and --cleanup-only removes every rule.
 */
import { describe, expect, test } from 'vitest';
import { kernelSkipReason, runTool, withNamespace } from './support/kernel.js';

const ARGS = [
  '-b',
  '51980:51980, 81,:100',
  '-o',
  '1000:,7:7',
  '-q',
  '3306:3306',
  '-e',
  '15008:15009',
  '-u',
  '1000-2000, 1337',
  '-c',
  'eth9, eth8',
  '-g',
  '3000:3000',
  '-i',
  '::ffff:127.0.0.1/128,10.0.0.0/8',
  '--redirect-dns',
  '--capture-all-dns',
  '--enable-inbound-ipv6=true',
];

describe.skipIf(kernelSkipReason)('upstream spellings in a namespace', () => {
  for (const backend of ['nft', 'legacy']) {
    test(`${backend}: applies, reads back as planned, and a re-run changes nothing`, async () => {
      await withNamespace(`spell-${backend}`, async (ns) => {
        const args = [...ARGS, '--force-iptables-binary', backend, '--network-namespace', ns.path];
        const first = await runTool(args);
        expect(first.code, first.stderr).toBe(0);
        const saved = await ns.save(`iptables-${backend}`);
        expect(saved).toContain('-A ISTIO_INBOUND -p tcp -m tcp --dport 51980 -j ISTIO_IN_REDIRECT');
        expect(saved).toContain('-A ISTIO_INBOUND -p tcp -m tcp --dport 0:100 -j ISTIO_IN_REDIRECT');
        expect(saved).toContain('-A ISTIO_OUTPUT -p udp -m udp --dport 1000:65535 -j RETURN');
        expect(saved).toContain('-A ISTIO_OUTPUT -m owner --uid-owner 1000-2000 -j RETURN');
        const again = await runTool(args);
        expect(again.code, again.stderr).toBe(0);
        expect(again.stderr).toContain(`ipv4 (${backend}): the live rules already match the plan; nothing to do`);
        expect(again.stderr).toContain(`ipv6 (${backend}): the live rules already match the plan; nothing to do`);
        const cleanup = await runTool([...args, '--cleanup-only']);
        expect(cleanup.code, cleanup.stderr).toBe(0);
        expect(await ns.save(`iptables-${backend}`)).not.toContain('ISTIO');
        expect(await ns.save(`ip6tables-${backend}`)).not.toContain('ISTIO');
      });
    });
  }
});
