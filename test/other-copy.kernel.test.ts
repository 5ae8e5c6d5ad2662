/**
 * Failure mode 3 (numbered as in the failure-mode corpus, FAILURE_MODES.md, of the reference material): one copy of the capture. Our rules
 * in the other iptables backend, or the tables of Istio's native-nftables mode, stop a run
 * (nothing changed) unless --migrate removes them in the same run; --cleanup-only removes
 * every copy. Foreign rules in both backends survive every path.
 */
import { describe, expect, test } from 'vitest';
import {
  addForeignRules,
  INJECTOR_ARGS,
  netfilterSnapshot,
  runInside,
  withoutEmptyBaseChains,
} from './support/hostile.js';
import { kernelSkipReason, type Namespace, runTool, withNamespace } from './support/kernel.js';

const ownChains = async (ns: Namespace, variant: string) =>
  (await ns.exec(`iptables-${variant}-save`, [])).stdout.split('\n').filter((l) => l.startsWith(':ISTIO_')).length;

/** Our rules restored straight into one backend, as an earlier run of another configuration left them. */
async function leaveCopy(ns: Namespace, variant: 'nft' | 'legacy'): Promise<void> {
  const dry = await runTool([...INJECTOR_ARGS, '--dry-run']);
  const payload = dry.stdout
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
  await ns.exec(`iptables-${variant}-restore`, ['--noflush'], { input: `${payload}\n` });
}

const NATIVE_NAT = [
  'table inet istio-proxy-nat {',
  ' chain output {',
  '  type nat hook output priority -100; policy accept;',
  '  meta l4proto tcp meta skuid != 1337 ip daddr != 127.0.0.1 redirect to :15001',
  ' }',
  '}',
  '',
].join('\n');

describe.skipIf(kernelSkipReason)('one copy of the capture', () => {
  for (const [old, now] of [
    ['nft', 'legacy'],
    ['legacy', 'nft'],
  ] as const) {
    test(`ours in ${old}, a run writing ${now}: stops naming the copy; --migrate moves it`, async () => {
      await withNamespace('copy', async (ns) => {
        await addForeignRules(ns, 'nft');
        await addForeignRules(ns, 'legacy');
        await leaveCopy(ns, old);
        const before = await netfilterSnapshot(ns);
        const args = [...INJECTOR_ARGS, '-o', '5432', '--network-namespace', ns.path];
        // auto detection picks legacy (it holds the foreign rules); forcing picks the other way too
        for (const extra of [
          now === 'legacy' ? [] : ['--force-iptables-binary', 'nft'],
          ['--force-iptables-binary', now],
        ]) {
          const stopped = await runTool([...args, ...extra]);
          expect(stopped.code, stopped.stderr).toBe(1);
          expect(stopped.stderr).toContain('rules of ours are live in the other iptables backend too');
          expect(stopped.stderr).toContain(`ipv4 ${old} (iptables-${old}-save): nat ISTIO_INBOUND`);
          expect(stopped.stderr).toContain('--migrate');
          expect(await netfilterSnapshot(ns)).toBe(before);
        }
        const migrated = await runTool([...args, '--force-iptables-binary', now, '--migrate']);
        expect(migrated.code, migrated.stderr).toBe(0);
        expect(migrated.stderr).toContain('removing the other copy');
        expect(await ownChains(ns, old)).toBe(0);
        expect(await ownChains(ns, now)).toBe(4);
        expect((await ns.exec(`iptables-${now}-save`, ['-t', 'nat'])).stdout).toContain('--dport 5432');
        const snapshot = await netfilterSnapshot(ns);
        for (const foreign of ['--dport 4789', '--dport 9 ', '--dport 22', '--dport 25'])
          for (const variant of ['nft', 'legacy'])
            expect((await ns.exec(`iptables-${variant}-save`, [])).stdout).toContain(foreign);
        const again = await runTool([...args, '--force-iptables-binary', now]);
        expect(again.code, again.stderr).toBe(0);
        expect(await netfilterSnapshot(ns)).toBe(snapshot);
      });
    });
  }

  test("the native-nftables mode's table stops a run; --migrate deletes it; inside and outside", async () => {
    await withNamespace('native', async (ns) => {
      await addForeignRules(ns, 'nft');
      await ns.exec('nft', ['-f', '-'], { input: NATIVE_NAT });
      const before = await netfilterSnapshot(ns);
      // Found by the native helper's netlink dump, and without it by `nft list tables`.
      for (const run of [
        () => runTool([...INJECTOR_ARGS, '--network-namespace', ns.path]),
        () => runTool([...INJECTOR_ARGS, '--network-namespace', ns.path], { ISTIO_IPTABLES_NATIVE: '0' }),
        () => runInside(ns, INJECTOR_ARGS),
      ]) {
        const stopped = await run();
        expect(stopped.code, stopped.stderr).toBe(1);
        expect(stopped.stderr).toContain("tables of Istio's native-nftables mode are live");
        expect(stopped.stderr).toContain('table inet istio-proxy-nat');
        expect(await netfilterSnapshot(ns)).toBe(before);
      }
      const migrated = await runInside(ns, [...INJECTOR_ARGS, '--migrate']);
      expect(migrated.code, migrated.stderr).toBe(0);
      expect((await ns.exec('nft', ['list', 'tables'])).stdout).not.toContain('istio-proxy');
      expect(await ownChains(ns, 'nft')).toBe(4);
    });
  });

  test('--cleanup-only removes ours from both backends and the native tables, nothing foreign', async () => {
    await withNamespace('cleanall', async (ns) => {
      await addForeignRules(ns, 'nft');
      await addForeignRules(ns, 'legacy');
      const clean = await netfilterSnapshot(ns);
      await leaveCopy(ns, 'nft');
      await leaveCopy(ns, 'legacy');
      await ns.exec('nft', ['-f', '-'], { input: NATIVE_NAT });
      const result = await runTool([...INJECTOR_ARGS, '--cleanup-only', '--network-namespace', ns.path]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('removed the other copy');
      expect(withoutEmptyBaseChains(await netfilterSnapshot(ns))).toBe(withoutEmptyBaseChains(clean));
    });
  });
});
