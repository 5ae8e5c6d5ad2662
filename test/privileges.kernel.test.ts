/**
 * Failure modes 8 and 9 (numbered as in the failure-mode corpus, FAILURE_MODES.md, of the reference material): privileges decided from the
 * effective capabilities, not the uid. A non-root process with NET_ADMIN and NET_RAW reads
 * legacy table by table and never picks nft beside legacy's rules; a missing capability is
 * named before anything runs.
 */
import { describe, expect, test } from 'vitest';
import { INJECTOR_ARGS, netfilterSnapshot } from './support/hostile.js';
import { BIN, kernelSkipReason, type Namespace, readableBin, sh, withNamespace } from './support/kernel.js';

const AS_1337 = ['setpriv', '--reuid', '1337', '--regid', '1337', '--clear-groups'];
const WITH_CAPS = ['--inh-caps=+net_admin,+net_raw', '--ambient-caps=+net_admin,+net_raw'];

/** The CLI in the namespace, from a copy uid 1337 can read (the checkout may not be). */
const inside = (ns: Namespace, prefix: readonly string[], args: readonly string[]) =>
  sh('ip', ['netns', 'exec', ns.name, ...prefix, readableBin(), ...args], { reject: false });

describe.skipIf(kernelSkipReason)('privileges from capabilities', () => {
  test('uid 1337 with NET_ADMIN and NET_RAW applies (legacy read table by table)', async () => {
    await withNamespace('caps-ok', async (ns) => {
      const result = await inside(ns, [...AS_1337, ...WITH_CAPS], INJECTOR_ARGS);
      expect(result.code, result.stderr).toBe(0);
      expect((await ns.exec('iptables-nft-save', ['-t', 'nat'])).stdout).toContain('-A OUTPUT -j ISTIO_OUTPUT');
    });
  });

  test('uid 1337 with the capabilities and a legacy rule: legacy is chosen, never nft beside it', async () => {
    await withNamespace('caps-legacy', async (ns) => {
      await ns.exec('iptables-legacy', [
        '-w',
        '-t',
        'nat',
        '-A',
        'POSTROUTING',
        '-s',
        '192.0.2.0/24',
        '-j',
        'MASQUERADE',
      ]);
      const before = await netfilterSnapshot(ns);
      const result = await inside(ns, [...AS_1337, ...WITH_CAPS], INJECTOR_ARGS);
      // The legacy write then needs the host's /run/xtables.lock, which uid 1337 may not open.
      expect(result.stderr).toContain('ipv4 (legacy)');
      expect(result.stderr).not.toContain('(nft)');
      if (result.code !== 0) {
        expect(result.code).toBe(1);
        expect(result.stderr).toContain('could not open its lock file');
        expect(result.stderr).not.toContain('rollback');
        // Reading a legacy table by name instantiates it (empty, accepting): compare the rules.
        const rules = (text: string) => text.split('\n').filter((l) => l.startsWith('-A') || l.startsWith('\t\t'));
        expect(rules(await netfilterSnapshot(ns))).toEqual(rules(before));
      }
      expect((await ns.exec('iptables-nft-save', [])).stdout).not.toContain('ISTIO');
    });
  });

  test('without NET_ADMIN: stopped before any command, naming the missing capability', async () => {
    await withNamespace('no-caps', async (ns) => {
      const before = await netfilterSnapshot(ns);
      const result = await inside(ns, AS_1337, INJECTOR_ARGS);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('uid 1337, holding none of the capabilities needed');
      expect(result.stderr).toContain('needs CAP_NET_ADMIN and CAP_NET_RAW');
      expect(result.stderr).toContain('Checked before running anything');
      expect(await netfilterSnapshot(ns)).toBe(before);
    });
  });

  test('from outside without SYS_ADMIN: entering the namespace needs it, said before anything runs', async () => {
    await withNamespace('no-sysadmin', async (ns) => {
      const result = await sh(
        'capsh',
        ['--drop=cap_sys_admin', '--', '-c', `exec "$0" "$@"`, BIN, ...INJECTOR_ARGS, '--network-namespace', ns.path],
        { reject: false },
      );
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain('needs CAP_SYS_ADMIN');
      expect(result.stderr).toContain('setns');
    });
  });
});
