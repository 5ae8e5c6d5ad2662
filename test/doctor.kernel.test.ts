/**
 * `doctor` against the failure modes' setups: each finding present when its cause is, absent
 * when not; exit 0 only when a run would succeed; read-only (the namespace's state unchanged).
 */
import { describe, expect, test } from 'vitest';
import { addForeignRules, addNftNativeNatRule, INJECTOR_ARGS, netfilterSnapshot } from './support/hostile.js';
import { kernelSkipReason, type Namespace, runTool, withNamespace } from './support/kernel.js';

interface Report {
  ok: boolean;
  findings: { id: string; severity: string; finding: string; fix?: string }[];
}

async function doctor(ns: Namespace, extra: readonly string[] = []) {
  const before = await netfilterSnapshot(ns);
  const result = await runTool(['doctor', ...INJECTOR_ARGS, ...extra, '--network-namespace', ns.path, '--json']);
  expect(await netfilterSnapshot(ns)).toBe(before);
  const report = JSON.parse(result.stdout) as Report;
  expect(result.code).toBe(report.ok ? 0 : 1);
  const errors = report.findings.filter((f) => f.severity === 'error').map((f) => f.id);
  const warnings = report.findings.filter((f) => f.severity === 'warning').map((f) => f.id);
  return { report, errors, warnings, code: result.code };
}

describe.skipIf(kernelSkipReason)('doctor', () => {
  test('a clean namespace with foreign rules: exit 0, no errors, then a run succeeds', async () => {
    await withNamespace('doc-clean', async (ns) => {
      await addForeignRules(ns, 'nft');
      const { code, errors, warnings } = await doctor(ns);
      expect(code).toBe(0);
      expect(errors).toEqual([]);
      expect(warnings).toEqual([]);
      expect((await runTool([...INJECTOR_ARGS, '--network-namespace', ns.path])).code).toBe(0);
    });
  });

  test('an nft-native rule in ip nat (mode 21): unreadable, exit 1', async () => {
    await withNamespace('doc-21', async (ns) => {
      await addNftNativeNatRule(ns);
      const { code, errors, report } = await doctor(ns);
      expect(code).toBe(1);
      expect(errors).toEqual(['unreadable']);
      expect(report.findings.find((f) => f.id === 'unreadable')?.finding).toContain('table nat');
    });
  });

  test('ours in both backends (mode 3) and a native-nftables table: exit 1 naming both, with --migrate as the fix', async () => {
    await withNamespace('doc-3', async (ns) => {
      expect(
        (await runTool([...INJECTOR_ARGS, '--force-iptables-binary', 'nft', '--network-namespace', ns.path])).code,
      ).toBe(0);
      expect((await doctor(ns)).errors).toEqual([]);
      const dry = await runTool([...INJECTOR_ARGS, '--dry-run']);
      const payload = `${dry.stdout
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .join('\n')}\n`;
      await ns.exec('iptables-legacy-restore', ['--noflush'], { input: payload });
      await ns.exec('nft', ['add', 'table', 'inet', 'istio-proxy-nat']);
      const { code, errors, report } = await doctor(ns);
      expect(code).toBe(1);
      expect(errors).toEqual(['other-copy', 'native-nftables']);
      expect(report.findings.find((f) => f.id === 'other-copy')?.fix).toContain('--migrate');
    });
  });

  test('TPROXY with table 133 in other use (mode 16): exit 1 naming the route and -r', async () => {
    await withNamespace('doc-16', async (ns) => {
      const tproxy = ['-m', 'TPROXY'];
      expect((await doctor(ns, tproxy)).errors).toEqual([]);
      await ns.exec('ip', ['route', 'add', 'unreachable', 'default', 'table', '133']);
      const { code, errors, report } = await doctor(ns, tproxy);
      expect(code).toBe(1);
      expect(errors).toEqual(['tproxy-routes']);
      const finding = report.findings.find((f) => f.id === 'tproxy-routes');
      expect(finding?.finding).toContain('unreachable default');
      expect(finding?.fix).toContain('-r/--istio-inbound-tproxy-route-table');
    });
  });

  test("an earlier TPROXY configuration's routing, which a run replaces, is no conflict: doctor agrees with the run", async () => {
    await withNamespace('doc-stale', async (ns) => {
      const tproxy = ['-m', 'TPROXY'];
      expect((await runTool([...INJECTOR_ARGS, ...tproxy, '--network-namespace', ns.path])).code).toBe(0);
      // Another route table, the same mark: the earlier fwmark rule and route are the run's to replace.
      const { code, errors, report } = await doctor(ns, [...tproxy, '-r', '134']);
      expect(errors).toEqual([]);
      expect(code).toBe(0);
      expect(report.findings.find((f) => f.id === 'stale-routing')?.finding).toBe(
        "a run removes an earlier TPROXY configuration's routing first: ip rule del fwmark 1337 lookup 133; ip route del local 0.0.0.0/0 dev lo table 133",
      );
      const run = await runTool([...INJECTOR_ARGS, ...tproxy, '-r', '134', '--network-namespace', ns.path]);
      expect(run.code, run.stderr).toBe(0);
      expect((await ns.exec('ip', ['rule'])).stdout).toContain('fwmark 0x539 lookup 134');
      expect((await doctor(ns, [...tproxy, '-r', '134'])).report.findings.map((f) => f.id)).not.toContain(
        'stale-routing',
      );
    });
  });

  test('a foreign RETURN before our jump (mode 22): a warning, exit 0', async () => {
    await withNamespace('doc-22', async (ns) => {
      expect((await runTool([...INJECTOR_ARGS, '--network-namespace', ns.path])).code).toBe(0);
      await ns.exec('iptables-nft', ['-t', 'nat', '-I', 'OUTPUT', '1', '-d', '198.51.100.0/25', '-j', 'RETURN']);
      const { code, warnings } = await doctor(ns);
      expect(code).toBe(0);
      expect(warnings).toEqual(['shadowing']);
    });
  });

  test('text output: one line per finding, fixes under problems, the verdict last', async () => {
    await withNamespace('doc-text', async (ns) => {
      await ns.exec('ip', ['route', 'add', 'unreachable', 'default', 'table', '133']);
      const result = await runTool(['doctor', ...INJECTOR_ARGS, '-m', 'TPROXY', '--network-namespace', ns.path]);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^error {3}tproxy-routes: .*unreachable default/m);
      expect(result.stdout).toMatch(/^ {8}fix: choose a free table/m);
      expect(result.stdout.trim().split('\n').at(-1)).toBe('a run would fail: see the errors above');
    });
  });
});
