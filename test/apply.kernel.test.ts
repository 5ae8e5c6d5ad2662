/**
 * Issue: apply for real. Every test works in namespaces it makes and deletes. The oracle for
 * "the right rules are live" is independent of our own verification: the same upstream
 * payload (from --dry-run) restored by iptables itself into a fresh control namespace.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { BIN, kernelSkipReason, runTool, sh, withNamespace, type Namespace } from './support/kernel.js';
import { INJECTOR_FLAGS } from './support/cli.js';

const BACKENDS = ['nft', 'legacy'] as const;
type Backend = (typeof BACKENDS)[number];

const REDIRECT_ARGS = INJECTOR_FLAGS;
const TPROXY_ARGS = [
  '-m',
  'TPROXY',
  '-b',
  '*',
  '-d',
  '15090',
  '-u',
  '1337',
  '-i',
  '10.0.0.0/8,fd00::/8',
  '-x',
  '10.1.0.0/16',
  '--redirect-dns',
  '--capture-all-dns',
  '--drop-invalid',
  '-c',
  'eth9',
  '-k',
  'vnet0',
];

function payloads(dryRun: string): Record<string, string> {
  const out: Record<string, string> = {};
  let current: string | undefined;
  for (const line of dryRun.split('\n')) {
    const header = /^# (ipv4|ipv6): ip6?tables-restore --noflush$/.exec(line);
    if (header) current = header[1];
    else if (line.startsWith('#')) current = undefined;
    else if (current && line !== '') out[current] = `${out[current] ?? ''}${line}\n`;
  }
  return out;
}

const binaries = (backend: Backend) => ({ ipv4: `iptables-${backend}`, ipv6: `ip6tables-${backend}` });

/** What iptables itself makes of upstream's payload, restored into a fresh namespace. */
async function controlState(
  args: readonly string[],
  backend: Backend,
  families: readonly ('ipv4' | 'ipv6')[],
): Promise<Record<string, string>> {
  const dry = await runTool([...args, '--dry-run']);
  expect(dry.code, dry.stderr).toBe(0);
  const texts = payloads(dry.stdout);
  return withNamespace('control', async (control) => {
    const state: Record<string, string> = {};
    for (const family of families) {
      await control.exec(`${binaries(backend)[family]}-restore`, ['--noflush'], { input: texts[family] ?? '' });
      state[family] = await control.save(binaries(backend)[family]);
    }
    return state;
  });
}

async function liveState(
  ns: Namespace,
  backend: Backend,
  families: readonly ('ipv4' | 'ipv6')[],
): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (const family of families) state[family] = await ns.save(binaries(backend)[family]);
  return state;
}

/** Drops table blocks that hold no rule and no chain of their own: a table's mere existence is not state we own. */
function withoutEmptyTables(state: Record<string, string>): Record<string, string> {
  const strip = (text: string) =>
    text
      .split(/(?=^\*)/m)
      .filter((block) => /^(-A |:(?!PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING)\S)/m.test(block))
      .join('');
  return Object.fromEntries(Object.entries(state).map(([family, text]) => [family, strip(text)]));
}

async function fwmarkRules(ns: Namespace, family: 'ipv4' | 'ipv6'): Promise<number> {
  const { stdout } = await ns.exec('ip', [...(family === 'ipv6' ? ['-6'] : []), 'rule', 'show']);
  return stdout.split('\n').filter((l) => l.includes('fwmark 0x539 lookup 133')).length;
}

/**
 * Runs `fn` with stand-ins first on PATH that log each iptables program started and then run
 * the real one; `started()` returns the programs logged since its last call.
 */
async function withProgramLog(
  fn: (env: Record<string, string>, started: () => Promise<string[]>) => Promise<void>,
): Promise<void> {
  const dir = (await sh('mktemp', ['-d'])).stdout.trim();
  try {
    for (const name of [
      'iptables-nft-save',
      'iptables-nft-restore',
      'iptables-legacy-save',
      'iptables-legacy-restore',
      'iptables-save',
      'iptables-restore',
    ]) {
      const real = (await sh('sh', ['-c', `command -v ${name}`])).stdout.trim();
      await sh('sh', [
        '-c',
        `printf '#!/bin/sh\\necho %s >> ${dir}/log\\nexec %s "$@"\\n' ${name} ${real} > ${dir}/${name} && chmod +x ${dir}/${name}`,
      ]);
    }
    const started = async () =>
      (await sh('sh', ['-c', `cat ${dir}/log 2>/dev/null; rm -f ${dir}/log`])).stdout
        .split('\n')
        .filter((line) => line !== '');
    await fn({ PATH: `${dir}:${process.env.PATH ?? ''}` }, started);
  } finally {
    await sh('rm', ['-rf', dir]);
  }
}

describe.skipIf(kernelSkipReason)('applying into a network namespace', () => {
  for (const backend of BACKENDS) {
    for (const [mode, modeArgs] of [
      ['REDIRECT', REDIRECT_ARGS],
      ['TPROXY', TPROXY_ARGS],
    ] as const) {
      for (const stack of ['ipv4', 'dual'] as const) {
        const families = stack === 'dual' ? (['ipv4', 'ipv6'] as const) : (['ipv4'] as const);
        test(`${mode} × ${backend} × ${stack}: applied state equals the payload's, re-runs change nothing`, async () => {
          const args = [...modeArgs, `--enable-inbound-ipv6=${stack === 'dual'}`, '--force-iptables-binary', backend];
          const expected = await controlState(args, backend, families);
          await withNamespace('apply', async (ns) => {
            const first = await runTool([...args, '--network-namespace', ns.path]);
            expect(first.code, first.stderr).toBe(0);
            const applied = await liveState(ns, backend, families);
            expect(applied).toEqual(expected);
            for (let i = 0; i < 2; i++) {
              const again = await runTool([...args, '--network-namespace', ns.path]);
              expect(again.code, again.stderr).toBe(0);
              expect(again.stderr).toContain('already match the plan');
              expect(await liveState(ns, backend, families)).toEqual(expected);
            }
            if (mode === 'TPROXY') {
              for (const family of families) expect(await fwmarkRules(ns, family)).toBe(1);
            }
            if (stack === 'dual') {
              const { stdout } = await ns.exec('ip', ['-6', 'addr', 'show', 'dev', 'lo']);
              expect(stdout.match(/inet6 ::6\/128/g)).toHaveLength(1);
            }
          });
        });
      }
    }
  }

  for (const backend of BACKENDS) {
    test(`${backend}: a rule deleted or added by hand is reconciled`, async () => {
      const args = [...REDIRECT_ARGS, '--enable-inbound-ipv6=false', '--force-iptables-binary', backend];
      const expected = await controlState(args, backend, ['ipv4']);
      await withNamespace('drift', async (ns) => {
        expect((await runTool([...args, '--network-namespace', ns.path])).code).toBe(0);
        const bin = binaries(backend).ipv4;
        await ns.exec(bin, ['-t', 'nat', '-D', 'ISTIO_OUTPUT', '-j', 'ISTIO_REDIRECT']);
        await ns.exec(bin, ['-t', 'nat', '-I', 'ISTIO_INBOUND', '1', '-p', 'tcp', '--dport', '7777', '-j', 'RETURN']);
        await ns.exec(bin, ['-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '-j', 'ISTIO_INBOUND']);
        expect(await liveState(ns, backend, ['ipv4'])).not.toEqual(expected);
        const rerun = await runTool([...args, '--network-namespace', ns.path]);
        expect(rerun.code, rerun.stderr).toBe(0);
        expect(rerun.stderr).toContain('differ from the plan');
        expect(await liveState(ns, backend, ['ipv4'])).toEqual(expected);
      });
    });

    test(`${backend}: --reconcile=false refuses to touch drifted rules`, async () => {
      const args = [...REDIRECT_ARGS, '--enable-inbound-ipv6=false', '--force-iptables-binary', backend];
      await withNamespace('norec', async (ns) => {
        expect((await runTool([...args, '--network-namespace', ns.path])).code).toBe(0);
        await ns.exec(binaries(backend).ipv4, ['-t', 'nat', '-D', 'ISTIO_OUTPUT', '-j', 'ISTIO_REDIRECT']);
        const before = await ns.save(binaries(backend).ipv4);
        const rerun = await runTool([...args, '--reconcile=false', '--network-namespace', ns.path]);
        expect(rerun.code).toBe(1);
        expect(rerun.stderr).toContain('Nothing was changed');
        expect(await ns.save(binaries(backend).ipv4)).toBe(before);
      });
    });

    test(`${backend}: --cleanup-only removes all we own and no foreign rule`, async () => {
      const args = [...TPROXY_ARGS, '--enable-inbound-ipv6=true', '--force-iptables-binary', backend];
      await withNamespace('clean', async (ns) => {
        const { ipv4, ipv6 } = binaries(backend);
        // Foreign rules, in built-in chains our rules also use, placed before the first run.
        for (const bin of [ipv4, ipv6]) {
          await ns.exec(bin, ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '9999', '-j', 'RETURN']);
          await ns.exec(bin, ['-t', 'mangle', '-A', 'PREROUTING', '-p', 'udp', '--dport', '9998', '-j', 'RETURN']);
          await ns.exec(bin, ['-t', 'filter', '-A', 'INPUT', '-p', 'tcp', '--dport', '9997', '-j', 'ACCEPT']);
        }
        const foreign = await liveState(ns, backend, ['ipv4', 'ipv6']);
        const applied = await runTool([...args, '--network-namespace', ns.path]);
        expect(applied.code, applied.stderr).toBe(0);
        for (const family of ['ipv4', 'ipv6'] as const) {
          const state = await ns.save(binaries(backend)[family]);
          expect(state).toContain('--dport 9999 -j RETURN');
          expect(state).toContain('ISTIO_OUTPUT');
          expect(await fwmarkRules(ns, family)).toBe(1);
        }
        const cleaned = await runTool([...args, '--cleanup-only', '--network-namespace', ns.path]);
        expect(cleaned.code, cleaned.stderr).toBe(0);
        expect(withoutEmptyTables(await liveState(ns, backend, ['ipv4', 'ipv6']))).toEqual(withoutEmptyTables(foreign));
        expect(JSON.stringify(foreign)).toContain('--dport 9998 -j RETURN');
        for (const family of ['ipv4', 'ipv6'] as const) expect(await fwmarkRules(ns, family)).toBe(0);
        expect((await ns.exec('ip', ['route', 'show', 'table', '133'])).stdout).toBe('');
        expect((await ns.exec('ip', ['-6', 'addr', 'show', 'dev', 'lo'])).stdout).not.toContain('::6/128');
        // A second cleanup finds nothing and still succeeds.
        expect((await runTool([...args, '--cleanup-only', '--network-namespace', ns.path])).code).toBe(0);
      });
    });
  }

  test('when the IPv6 half fails, the IPv4 half is rolled back', async () => {
    // A stand-in ip6tables-nft-restore that refuses every payload, first on PATH.
    await withNamespace('rollback', async (ns) => {
      const dir = (await sh('mktemp', ['-d'])).stdout.trim();
      try {
        await sh('sh', [
          '-c',
          `printf '#!/bin/sh\\ncat >/dev/null\\necho "ip6tables-restore: line 2 failed" >&2\\nexit 1\\n' > ${dir}/ip6tables-nft-restore && chmod +x ${dir}/ip6tables-nft-restore`,
        ]);
        await ns.exec('iptables-nft', ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '9999', '-j', 'RETURN']);
        const before = await ns.save('iptables-nft');
        const result = await runTool(
          [
            ...REDIRECT_ARGS,
            '--enable-inbound-ipv6=true',
            '--force-iptables-binary',
            'nft',
            '--network-namespace',
            ns.path,
          ],
          {
            PATH: `${dir}:${process.env.PATH ?? ''}`,
          },
        );
        expect(result.code).toBe(1);
        expect(result.stderr).toContain('ipv6 restore failed');
        expect(result.stderr).toContain('payload line 2: -N ISTIO_INBOUND');
        expect(result.stderr).toContain('ipv4: rolled back');
        expect(await ns.save('iptables-nft')).toBe(before);
      } finally {
        await sh('rm', ['-rf', dir]);
      }
    });
  });

  test('bad input in apply mode leaves the namespace untouched', async () => {
    await withNamespace('bad', async (ns) => {
      const before = await ns.save('iptables-nft');
      const result = await runTool([
        '-b',
        '99999',
        '-i',
        '10.0.0.0',
        '--network-namespace',
        ns.path,
        '--enable-inbound-ipv6=false',
      ]);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('--istio-inbound-ports="99999"');
      expect(result.stderr).toContain('--istio-service-cidr="10.0.0.0"');
      expect(await ns.save('iptables-nft')).toBe(before);
      expect(await ns.save('iptables-legacy')).toBe('');
    });
  });

  test('a missing namespace is a clear error before anything runs', async () => {
    const result = await runTool([
      ...REDIRECT_ARGS,
      '--enable-inbound-ipv6=false',
      '--network-namespace',
      '/var/run/netns/iit-does-not-exist',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/network namespace \/var\/run\/netns\/iit-does-not-exist is not available/);
    const notNs = await runTool([
      ...REDIRECT_ARGS,
      '--enable-inbound-ipv6=false',
      '--network-namespace',
      '/etc/hostname',
    ]);
    expect(notNs.code).toBe(1);
    expect(notNs.stderr).toContain('is not a network namespace file');
  });

  test("from outside, a process's namespace (/proc/PID/ns/net) tells its legacy tables without a state read", async () => {
    await withProgramLog(async (env, started) => {
      await withNamespace('by-pid', async (ns) => {
        const holder = spawn('nsenter', [`--net=${ns.path}`, 'sleep', '60'], { stdio: 'ignore' });
        try {
          const path = `/proc/${holder.pid}/ns/net`;
          // Until nsenter has entered the namespace, the path is still ours: never run against it.
          const target = statSync(ns.path).ino;
          for (let i = 0; i < 200 && statSync(path, { throwIfNoEntry: false })?.ino !== target; i++)
            await new Promise((r) => setTimeout(r, 10));
          expect(statSync(path).ino).toBe(target);
          const result = await runTool(
            [...REDIRECT_ARGS, '--enable-inbound-ipv6=false', '--network-namespace', path],
            env,
          );
          expect(result.code, result.stderr).toBe(0);
          expect(await started()).toEqual(['iptables-nft-restore', 'iptables-nft-save']);
          expect(await ns.save('iptables-nft')).toContain('-A OUTPUT -j ISTIO_OUTPUT');
        } finally {
          holder.kill();
        }
      });
    });
  });

  test('IPv6 is derived from the target namespace, not ours', async () => {
    await withNamespace('derive', async (ns) => {
      await ns.exec('ip', ['-6', 'addr', 'add', '2001:db8::5/64', 'dev', 'lo', 'nodad']);
      const result = await runTool([
        ...REDIRECT_ARGS,
        '--network-namespace',
        ns.path,
        '--force-iptables-binary',
        'nft',
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(await ns.save('ip6tables-nft')).toContain('ISTIO_OUTPUT');
    });
  });

  describe('run inside the namespace (the init container)', () => {
    /** The CLI started in the namespace, as an init container runs: no --network-namespace. */
    const runInside = (ns: Namespace, args: readonly string[]) =>
      sh('nsenter', [`--net=${ns.path}`, BIN, ...args], { reject: false });
    const args = [...REDIRECT_ARGS, '--enable-inbound-ipv6=false'];

    test('without legacy tables it applies with nft', async () => {
      await withNamespace('inside', async (ns) => {
        const result = await runInside(ns, args);
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toContain('ipv4 (nft): no rules of ours yet');
        expect(await ns.save('iptables-nft')).toContain('-A OUTPUT -j ISTIO_OUTPUT');
        expect(await ns.save('iptables-legacy')).toBe('');
      });
    });

    test('a first run restores before reading: foreign rules stay, and a re-run finds the plan', async () => {
      await withNamespace('inside-first', async (ns) => {
        await ns.exec('iptables-nft', ['-t', 'nat', '-A', 'OUTPUT', '-d', '192.0.2.9/32', '-j', 'RETURN']);
        const first = await runInside(ns, args);
        expect(first.code, first.stderr).toBe(0);
        expect(first.stderr).toMatch(/\tinfo\tipv4 \(nft\): no rules of ours yet; applied \d+ rules$/m);
        const nat = await ns.save('iptables-nft');
        expect(nat.indexOf('-A OUTPUT -d 192.0.2.9/32 -j RETURN')).toBeLessThan(
          nat.indexOf('-A OUTPUT -j ISTIO_OUTPUT'),
        );
        const again = await runInside(ns, args);
        expect(again.code, again.stderr).toBe(0);
        expect(again.stderr).toContain('already match the plan');
        expect(await ns.save('iptables-nft')).toBe(nat);
      });
    });

    test('a first run starts two processes, the restore and the read-back; a re-run, the failed restore and one state read', async () => {
      await withProgramLog(async (env, started) => {
        await withNamespace('inside-count', async (ns) => {
          const first = await sh('nsenter', [`--net=${ns.path}`, BIN, ...args], { reject: false, env });
          expect(first.code, first.stderr).toBe(0);
          expect(await started()).toEqual(['iptables-nft-restore', 'iptables-nft-save']);
          const again = await sh('nsenter', [`--net=${ns.path}`, BIN, ...args], { reject: false, env });
          expect(again.stderr).toContain('already match the plan');
          expect(await started()).toEqual(['iptables-nft-restore', 'iptables-nft-save']);
        });
      });
    });

    test('rules of ours left in another table: the first restore is put back, then they are reconciled away', async () => {
      await withNamespace('inside-leftover', async (ns) => {
        await ns.exec('iptables-nft', ['-t', 'nat', '-A', 'OUTPUT', '-d', '192.0.2.9/32', '-j', 'RETURN']);
        await ns.exec('iptables-nft', ['-t', 'raw', '-N', 'ISTIO_OUTPUT_DNS']);
        await ns.exec('iptables-nft', [
          '-t',
          'raw',
          '-A',
          'OUTPUT',
          '-p',
          'udp',
          '--dport',
          '53',
          '-j',
          'ISTIO_OUTPUT_DNS',
        ]);
        const result = await runInside(ns, args);
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toContain(
          'ipv4 (nft): the rules read back are not just the plan; putting back what was applied, then reading the state first',
        );
        expect(result.stderr).toContain('raw ISTIO_OUTPUT_DNS: chain not in the plan');
        const state = await ns.save('iptables-nft');
        expect(state).not.toContain('ISTIO_OUTPUT_DNS');
        expect(state).toContain('-A OUTPUT -d 192.0.2.9/32 -j RETURN');
        expect(state.match(/^-A OUTPUT -j ISTIO_OUTPUT$/gm)).toHaveLength(1);
        const again = await runInside(ns, args);
        expect(again.stderr).toContain('already match the plan');
      });
    });

    test('with legacy rules it keeps to legacy, and to the foreign rule', async () => {
      await withNamespace('inside-legacy', async (ns) => {
        await ns.exec('iptables-legacy', ['-t', 'nat', '-A', 'OUTPUT', '-d', '192.0.2.9/32', '-j', 'RETURN']);
        const result = await runInside(ns, args);
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toContain('ipv4 (legacy): no rules of ours yet');
        const legacy = await ns.save('iptables-legacy');
        expect(legacy).toContain('-A OUTPUT -d 192.0.2.9/32 -j RETURN');
        expect(legacy).toContain('-A OUTPUT -j ISTIO_OUTPUT');
        expect(await ns.save('iptables-nft')).not.toContain('ISTIO_OUTPUT');
      });
    });
  });
});
