/**
 * Failure mode 21 (numbered as in the failure-mode corpus, FAILURE_MODES.md, of the reference material): a state read the tool cannot fully
 * understand stops the run before any write, and foreign rules survive every path.
 */
import { describe, expect, test } from 'vitest';
import {
  addForeignRules,
  addNftNativeNatRule,
  INJECTOR_ARGS,
  istioLines,
  netfilterSnapshot,
  runInside,
  withStandIns,
  withoutEmptyBaseChains,
} from './support/hostile.js';
import { kernelSkipReason, runTool, withNamespace } from './support/kernel.js';

const TPROXY = ['-m', 'TPROXY', '-b', '*', '-u', '1337', '-i', '*', '--enable-inbound-ipv6=false'];

describe.skipIf(kernelSkipReason)('a state the tool cannot read completely', () => {
  // REDIRECT restores first (the first-run path); TPROXY reads first (the careful way).
  for (const [mode, args] of [
    ['REDIRECT', INJECTOR_ARGS],
    ['TPROXY', TPROXY],
  ] as const) {
    test(`nft, ${mode}: an nft-native rule in ip nat stops every run and changes nothing`, async () => {
      await withNamespace('incompat', async (ns) => {
        await addForeignRules(ns, 'nft');
        await addNftNativeNatRule(ns);
        const before = await netfilterSnapshot(ns);
        for (const extra of [[], [], ['--cleanup-only']]) {
          for (const run of [
            () => runTool([...args, ...extra, '--network-namespace', ns.path]),
            () => runInside(ns, [...args, ...extra]),
          ]) {
            const result = await run();
            expect(result.code, result.stderr).toBe(1);
            expect(result.stderr).toContain('cannot read table nat completely');
            expect(result.stderr).toContain('Nothing was changed');
            expect(result.stderr).toContain('`nft list table ip nat`');
            expect(withoutEmptyBaseChains(await netfilterSnapshot(ns))).toBe(withoutEmptyBaseChains(before));
          }
        }
        expect(before).toContain('masquerade');
        expect(await istioLines(ns)).toBe(0);
      });
    });
  }

  test('legacy: a save line the tool does not know stops the run, changing nothing', async () => {
    await withNamespace('unknown-line', async (ns) => {
      await addForeignRules(ns, 'legacy');
      const before = await netfilterSnapshot(ns);
      await withStandIns(
        { 'iptables-legacy-save': '"$REAL" "$@"; echo "# Warning: something this tool has never seen"' },
        async (env) => {
          const result = await runTool([...INJECTOR_ARGS, '--network-namespace', ns.path], env);
          expect(result.code, result.stderr).toBe(1);
          expect(result.stderr).toContain('ipv4 iptables-legacy-save: cannot read');
          expect(result.stderr).toContain('# Warning: something this tool has never seen');
          expect(result.stderr).toContain('iptables-legacy-save');
        },
      );
      expect(await netfilterSnapshot(ns)).toBe(before);
    });
  });

  test('nft: a save that exits 0 with a warning on stderr it does not know stops the run', async () => {
    await withNamespace('stderr-warning', async (ns) => {
      await addForeignRules(ns, 'nft');
      const before = await netfilterSnapshot(ns);
      const warning = 'Warning: Extension bpf revision 0 not supported, missing kernel module?';
      await withStandIns({ 'iptables-nft-save': `"$REAL" "$@"; echo '${warning}' >&2` }, async (env) => {
        for (const args of [INJECTOR_ARGS, TPROXY]) {
          const result = await runTool([...args, '--network-namespace', ns.path], env);
          expect(result.code, result.stderr).toBe(1);
          expect(result.stderr).toContain(`cannot read the state completely: "# ${warning}"`);
        }
      });
      expect(withoutEmptyBaseChains(await netfilterSnapshot(ns))).toBe(withoutEmptyBaseChains(before));
    });
  });

  test('nft: after a good first run, an nft-native rule added later stops re-runs and cleanup alike', async () => {
    await withNamespace('incompat-later', async (ns) => {
      await addForeignRules(ns, 'nft');
      expect((await runTool([...INJECTOR_ARGS, '--network-namespace', ns.path])).code).toBe(0);
      await ns.exec('nft', [
        'add',
        'rule',
        'ip',
        'nat',
        'POSTROUTING',
        'meta',
        'l4proto',
        '{',
        'tcp,',
        'udp',
        '}',
        'masquerade',
      ]);
      const before = await netfilterSnapshot(ns);
      for (const extra of [[], ['--cleanup-only'], ['--force-apply']]) {
        const result = await runTool([...INJECTOR_ARGS, ...extra, '--network-namespace', ns.path]);
        expect(result.code, result.stderr).toBe(1);
        expect(result.stderr).toContain('`nft list table ip nat`');
        expect(await netfilterSnapshot(ns)).toBe(before);
      }
    });
  });
});
