/**
 * `--native-nftables` for real, in namespaces each test makes and deletes: apply, re-run,
 * drift, reconfiguration, cleanup, a foreign table, rollback, the other mode's rules, nft
 * missing, names nft cannot resolve. The oracle for "the planned rules are live" is nft itself:
 * upstream's transaction (from --dry-run) loaded by `nft -f` into a fresh control namespace.
 */
import { dirname } from 'node:path';
import { describe, expect, test } from 'vitest';
import { planNftCapture } from '../src/plan/nft/plan-nft.js';
import { applyNftables, type NftApplyOptions } from '../src/exec/nft/apply.js';
import { processRunner } from '../src/exec/process-runner.js';
import { readTextFile } from '../src/exec/host-facts.js';
import type { CommandRunner } from '../src/exec/command.js';
import { REDIRECT_IPV4 } from './support/capture-config.js';
import { kernelSkipReason, runTool, withNamespace, type Namespace } from './support/kernel.js';

const BASE = ['-u', '1337', '--native-nftables', '--enable-inbound-ipv6=true'];
const TPROXY = [...BASE, '-m', 'TPROXY', '-b', '*', '-d', '15090', '-i', '10.0.0.0/8,fd00::/8', '-x', '10.1.0.0/16'];
const DNS = ['--redirect-dns', '--capture-all-dns'];
const REDIRECT = [...BASE, '-m', 'REDIRECT', '-b', '*', '-i', '*'];

/** Our tables as nft lists them, without counter values (they differ between loads). */
async function listing(ns: Namespace): Promise<string> {
  const { stdout } = await ns.exec('nft', ['list', 'ruleset']);
  return stdout.replace(/ packets \d+ bytes \d+/g, '');
}

async function tables(ns: Namespace): Promise<string[]> {
  const { stdout } = await ns.exec('nft', ['list', 'tables']);
  return stdout.split('\n').filter((line) => line !== '');
}

/** What nft lists after loading the dry run's transaction into a fresh namespace. */
async function oracle(args: readonly string[]): Promise<string> {
  const dry = await runTool([...args, '--dry-run']);
  expect(dry.code, dry.stderr).toBe(0);
  const transaction = dry.stdout
    .split(/(?<=\n)/)
    .filter((line) => !line.startsWith('#'))
    .join('');
  return withNamespace('nft-oracle', async (control) => {
    await control.exec('nft', ['-f', '-'], { input: transaction });
    return listing(control);
  });
}

async function run(ns: Namespace, args: readonly string[], env: Record<string, string> = {}) {
  return runTool(['--network-namespace', ns.path, ...args], { PATH: process.env.PATH ?? '', ...env });
}

describe.skipIf(kernelSkipReason)('--native-nftables applied into a network namespace', () => {
  test('apply, then a re-run that changes nothing', async () => {
    await withNamespace('nft-apply', async (ns) => {
      const first = await run(ns, [...TPROXY, ...DNS]);
      expect(first.code, first.stderr).toBe(0);
      expect(await listing(ns)).toBe(await oracle([...TPROXY, ...DNS]));
      const again = await run(ns, [...TPROXY, ...DNS]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain('already match the plan; nothing to do');
      expect(await listing(ns)).toBe(await oracle([...TPROXY, ...DNS]));
    });
  });

  test('drift is replaced in one transaction; --reconcile=false refuses and changes nothing', async () => {
    await withNamespace('nft-drift', async (ns) => {
      expect((await run(ns, REDIRECT)).code).toBe(0);
      await ns.exec('nft', ['add', 'rule', 'inet', 'istio-proxy-nat', 'istio-output', 'counter', 'accept']);
      await ns.exec('nft', ['add', 'chain', 'inet', 'istio-proxy-nat', 'stray']);
      const drifted = await listing(ns);
      const refused = await run(ns, [...REDIRECT, '--reconcile=false']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('--reconcile=false forbids');
      expect(await listing(ns)).toBe(drifted);
      const fixed = await run(ns, REDIRECT);
      expect(fixed.code, fixed.stderr).toBe(0);
      expect(fixed.stderr).toContain('replacing them in one transaction');
      expect(await listing(ns)).toBe(await oracle(REDIRECT));
    });
  });

  test('reconfiguring TPROXY→REDIRECT and DNS on→off leaves no stale table or chain', async () => {
    await withNamespace('nft-reconf', async (ns) => {
      expect((await run(ns, [...TPROXY, ...DNS])).code).toBe(0);
      expect(await tables(ns)).toEqual([
        'table inet istio-proxy-nat',
        'table inet istio-proxy-mangle',
        'table inet istio-proxy-raw',
      ]);
      const redirect = await run(ns, [...REDIRECT, ...DNS]);
      expect(redirect.code, redirect.stderr).toBe(0);
      expect(await listing(ns)).toBe(await oracle([...REDIRECT, ...DNS]));
      const noDns = await run(ns, REDIRECT);
      expect(noDns.code, noDns.stderr).toBe(0);
      expect(await tables(ns)).toEqual(['table inet istio-proxy-nat']);
      expect(await listing(ns)).not.toContain('istio-output-dns');
      expect(await listing(ns)).toBe(await oracle(REDIRECT));
    });
  });

  test('--cleanup-only removes our tables and routes, and a foreign table stays as it was', async () => {
    await withNamespace('nft-cleanup', async (ns) => {
      await ns.exec('nft', ['-f', '-'], {
        input:
          'add table inet foreign\nadd chain inet foreign c { type filter hook output priority 0 ; }\nadd rule inet foreign c counter accept\n',
      });
      const foreign = await listing(ns);
      expect((await run(ns, [...TPROXY, ...DNS])).code).toBe(0);
      expect(await listing(ns)).toContain('table inet foreign');
      const clean = await run(ns, [...TPROXY, ...DNS, '--cleanup-only']);
      expect(clean.code, clean.stderr).toBe(0);
      expect(await listing(ns)).toBe(foreign);
      expect((await ns.exec('ip', ['rule'])).stdout).not.toContain('fwmark');
    });
  });

  test('a read-back that differs from the plan fails the run and restores the tables before it', async () => {
    await withNamespace('nft-rollback', async (ns) => {
      expect((await run(ns, REDIRECT)).code).toBe(0);
      const before = await listing(ns);
      // A runner that lets someone else change our table right after our transaction.
      const inNs: CommandRunner = {
        async run(command) {
          const result = await processRunner.run({
            ...command,
            file: 'nsenter',
            args: [`--net=${ns.path}`, '--', command.file, ...command.args],
          });
          if (command.file === 'nft' && command.args.join(' ') === '-f -' && command.input?.includes('flush table'))
            await ns.exec('nft', ['add', 'rule', 'inet', 'istio-proxy-nat', 'istio-output', 'counter', 'drop']);
          return result;
        },
      };
      const config = { ...REDIRECT_IPV4, dns: { mode: 'all' } } as const;
      const logs: string[] = [];
      const options: NftApplyOptions = { cleanupOnly: false, reconcile: true, forceApply: false };
      const deps = { runner: inNs, log: (line: string) => logs.push(line), readTextFile };
      await expect(applyNftables(planNftCapture(config), config, options, deps)).rejects.toThrow(
        /differ from the plan/,
      );
      expect(logs).toContain('nftables: rolled back to the tables before this run');
      expect(await listing(ns)).toBe(before);
    });
  });

  test("either mode stops while the other mode's rules are live, changing nothing", async () => {
    await withNamespace('nft-modes', async (ns) => {
      await ns.exec('iptables-nft', ['-t', 'nat', '-N', 'ISTIO_OUTPUT']);
      const nft = await run(ns, REDIRECT);
      expect(nft.code).toBe(1);
      expect(nft.stderr).toContain('rules of the iptables mode are live in this namespace');
      expect(nft.stderr).toContain('run the same command once with --cleanup-only and without --native-nftables');
      expect(await tables(ns)).toEqual(['table ip nat']);
      await ns.exec('iptables-nft', ['-t', 'nat', '-X', 'ISTIO_OUTPUT']);
      expect((await run(ns, REDIRECT)).code).toBe(0);
      const iptables = await run(ns, ['-u', '1337', '--enable-inbound-ipv6=false']);
      expect(iptables.code).toBe(1);
      expect(iptables.stderr).toContain("tables of Istio's native-nftables mode are live");
      expect(iptables.stderr).toContain('table inet istio-proxy-nat');
      expect((await ns.exec('iptables-nft-save', [])).stdout).not.toContain('ISTIO');
    });
  });

  test('legacy iptables chains of ours, which nft cannot see, stop the run too', async () => {
    await withNamespace('nft-legacy', async (ns) => {
      await ns.exec('ip6tables-legacy', ['-t', 'mangle', '-N', 'ISTIO_INBOUND']);
      const result = await run(ns, REDIRECT);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('legacy ip6 mangle ISTIO_INBOUND');
      expect(await tables(ns)).toEqual([]);
    });
  });

  test("values nft reads differently are translated, and a user's text cannot leave its quotes", async () => {
    await withNamespace('nft-values', async (ns) => {
      const args = [...REDIRECT, '-c', 'eth+', '-k', 'a;b{c}#', '-o', '1000:2000'];
      const result = await run(ns, args);
      expect(result.code, result.stderr).toBe(0);
      const live = await listing(ns);
      expect(live).toContain('iifname "eth*" counter return');
      expect(live).toContain('iifname "a;b{c}#" counter return');
      expect(live).toContain('tcp dport 1000-2000 counter return');
    });
  });

  test('padded items and owner ranges, as upstream takes them, load and re-run as no-ops', async () => {
    await withNamespace('nft-padded', async (ns) => {
      const args = [...REDIRECT, '-c', 'eth0, veth+', '-o', '9000, 9001', '-g', '1337, 2000:2100'];
      const env = { ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE: ' daemon' };
      const dry = await run(ns, [...args, '--dry-run'], env);
      expect(dry.stdout).toContain('add rule inet istio-proxy-nat istio-output tcp dport  9001 counter return');
      expect(dry.stdout).toContain('skgid 2000-2100 counter return');
      const first = await run(ns, args, env);
      expect(first.code, first.stderr).toBe(0);
      const live = await listing(ns);
      expect(live).toContain('oifname "veth*" counter return');
      expect(live).toContain('meta skgid 2000-2100 counter return');
      expect(live).toMatch(/meta skgid \d+ counter return/);
      const again = await run(ns, args, env);
      expect(again.stderr).toContain('nothing to do');
    });
  });

  test('an unknown group name is refused before nft runs; the dry run still prints it', async () => {
    await withNamespace('nft-group', async (ns) => {
      const env = { ISTIO_OUTBOUND_OWNER_GROUPS: 'no-such-group-x1' };
      const result = await run(ns, REDIRECT, env);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('ISTIO_OUTBOUND_OWNER_GROUPS="no-such-group-x1": no such group');
      expect(await tables(ns)).toEqual([]);
      const dry = await run(ns, [...REDIRECT, '--dry-run'], env);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain('skgid != no-such-group-x1 counter return');
    });
  });

  test("nft missing: a clear error naming Debian's nftables package", async () => {
    await withNamespace('nft-missing', async (ns) => {
      const result = await run(ns, REDIRECT, { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('apt-get install nftables');
    });
  });
});
