/**
 * Failure modes 15 and 22 (numbered as in the failure-mode corpus, FAILURE_MODES.md, of the reference material): where traffic silently
 * bypasses the proxy, the run still succeeds but says so. And legacy's lock files for other
 * namespaces do not pile up in /run, a read-only /run (mode 11) and a legacy table that cannot
 * be initialized (mode 4, a stand-in) are said as what they are.
 */
import { describe, expect, test } from 'vitest';
import { existsSync, rmSync } from 'node:fs';
import { lockFileFor } from '../src/exec/lock-file.js';
import { INJECTOR_ARGS, withStandIns } from './support/hostile.js';
import { BIN, kernelSkipReason, runTool, sh, withNamespace } from './support/kernel.js';

describe.skipIf(kernelSkipReason)('warnings where traffic bypasses the proxy', () => {
  for (const backend of ['nft', 'legacy'] as const) {
    test(`${backend}: a foreign RETURN before our jump in nat OUTPUT is named (mode 22)`, async () => {
      await withNamespace('shadow', async (ns) => {
        const args = [...INJECTOR_ARGS, '--force-iptables-binary', backend, '--network-namespace', ns.path];
        const clean = await runTool(args);
        expect(clean.code, clean.stderr).toBe(0);
        expect(clean.stderr).not.toContain('bypasses the proxy');
        await runTool([...args, '--cleanup-only']);
        await ns.exec(`iptables-${backend}`, [
          '-t',
          'nat',
          '-A',
          'OUTPUT',
          '-p',
          'tcp',
          '-d',
          '198.51.100.0/25',
          '-j',
          'RETURN',
        ]);
        for (let run = 0; run < 2; run++) {
          const result = await runTool(args);
          expect(result.code, result.stderr).toBe(0);
          expect(result.stderr).toContain('\twarn\tipv4 nat OUTPUT: -A OUTPUT -d 198.51.100.0/25 -p tcp -j RETURN');
          expect(result.stderr).toContain('bypasses the proxy');
        }
      });
    });
  }

  test('an IPv4-first pod with an IPv6 address: IPv6 left uncaptured is said (mode 15)', async () => {
    await withNamespace('v4first', async (ns) => {
      await ns.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
      await ns.exec('ip', ['addr', 'add', '192.0.2.10/24', 'dev', 'eth0']);
      await ns.exec('ip', ['addr', 'add', '2001:db8::10/64', 'dev', 'eth0', 'nodad']);
      await ns.exec('ip', ['link', 'set', 'eth0', 'up']);
      const args = INJECTOR_ARGS.filter((a) => !a.startsWith('--enable-inbound-ipv6'));
      const result = await runTool([...args, '--network-namespace', ns.path]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('IPv6 addresses (2001:db8::10)');
      const dual = await runTool([...args, '--dual-stack', '--network-namespace', ns.path]);
      expect(dual.code, dual.stderr).toBe(0);
      expect(dual.stderr).not.toContain('IPv6 traffic bypasses the proxy');
    });
  });
});

describe.skipIf(kernelSkipReason)("legacy's lock file for another namespace", () => {
  test('is removed when the run ends, success or failure', async () => {
    await withNamespace('lockfile', async (ns) => {
      const file = lockFileFor(ns.path);
      const args = [...INJECTOR_ARGS, '--force-iptables-binary', 'legacy', '--network-namespace', ns.path];
      const seen = `${file}.seen-by-test`;
      // The lock file exists while legacy restores (a stand-in looks), and not after the run.
      await withStandIns(
        { 'iptables-legacy-restore': `"$REAL" "$@"; s=$?; [ -e ${file} ] && touch ${seen}; exit $s` },
        async (env) => {
          const result = await runTool(args, env);
          expect(result.code, result.stderr).toBe(0);
        },
      );
      expect(existsSync(seen)).toBe(true);
      rmSync(seen);
      expect(existsSync(file)).toBe(false);
      await ns.exec('ip', ['route', 'add', 'unreachable', 'default', 'table', '133']);
      expect((await runTool([...args, '-m', 'TPROXY'])).code).toBe(1);
      expect(existsSync(file)).toBe(false);
    });
  });
});

describe.skipIf(kernelSkipReason)('a read-only /run (mode 11)', () => {
  for (const backend of ['legacy', 'nft'] as const) {
    test(`${backend}: ${backend === 'legacy' ? 'said as such, not retried, nothing rolled back or changed' : 'nft needs no lock file: applied'}`, async () => {
      await withNamespace('ro-run', async (ns) => {
        await ns.exec(`iptables-${backend}`, [
          '-t',
          'nat',
          '-A',
          'POSTROUTING',
          '-s',
          '192.0.2.0/24',
          '-j',
          'MASQUERADE',
        ]);
        const args = [...INJECTOR_ARGS, '--force-iptables-binary', backend].map((a) => `'${a}'`).join(' ');
        // A private mount namespace whose /run is a read-only tmpfs, entered after the network namespace.
        const result = await sh(
          'unshare',
          [
            '--mount',
            '--propagation',
            'private',
            'nsenter',
            `--net=${ns.path}`,
            'sh',
            '-c',
            `mount -t tmpfs -o ro tmpfs /run && exec ${BIN} ${args}`,
          ],
          { reject: false },
        );
        const saved = (await ns.exec(`iptables-${backend}-save`, [])).stdout;
        expect(saved).toContain('-A POSTROUTING -s 192.0.2.0/24 -j MASQUERADE');
        if (backend === 'nft') {
          expect(result.code, result.stderr).toBe(0);
          return;
        }
        expect(result.code).toBe(1);
        expect(result.stderr).toContain('Read-only file system');
        expect(result.stderr).toContain('could not open its lock file');
        expect(result.stderr).not.toMatch(/busy|held|attempt|rollback/);
        expect(saved).not.toContain('ISTIO');
      });
    });
  }
});

describe.skipIf(kernelSkipReason)("legacy's nat table cannot be initialized (mode 4, stand-in)", () => {
  test('the module hint, whether nft can open the table, no rollback, nothing changed', async () => {
    await withNamespace('no-nat', async (ns) => {
      // A legacy filter rule makes legacy the backend; its nat table "cannot be initialized".
      await ns.exec('iptables-legacy', ['-w', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
      const before = await ns.save('iptables-legacy');
      await withStandIns(
        {
          'iptables-legacy-restore':
            "cat >/dev/null; echo \"iptables-restore: unable to initialize table 'nat'\" >&2; echo 'Error occurred at line: 1' >&2; exit 1",
        },
        async (env) => {
          const result = await runTool([...INJECTOR_ARGS, '--network-namespace', ns.path], env);
          expect(result.code).toBe(1);
          expect(result.stderr).toContain("unable to initialize table 'nat'");
          expect(result.stderr).toContain('iptable_nat');
          expect(result.stderr).toContain('The nft backend can open that table here: --force-iptables-binary nft');
          expect(result.stderr).not.toContain('rollback');
        },
      );
      expect(await ns.save('iptables-legacy')).toBe(before);
    });
  });
});
