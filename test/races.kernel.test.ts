/**
 * Issue 11: races, crashes and faults, in a real kernel, both backends. Runs go into
 * namespaces made here; stand-in programs first on PATH (test/support/stand-ins.ts) block,
 * fail or count where a test needs it. "The plan" is what one run alone leaves in a fresh
 * namespace (which test/apply.kernel.test.ts checks against iptables' own restore).
 */
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { BIN, kernelSkipReason, runTool, sh, withNamespace, type Namespace } from './support/kernel.js';
import { programDir, withStandIns } from './support/stand-ins.js';

const BACKENDS = ['nft', 'legacy'] as const;
type Backend = (typeof BACKENDS)[number];

const TPROXY = ['-m', 'TPROXY', '-b', '*', '-d', '15090', '-u', '1337', '-i', '*', '--enable-inbound-ipv6=true'];
const REDIRECT = ['-m', 'REDIRECT', '-b', '*', '-d', '15090', '-u', '1337', '-i', '*', '--enable-inbound-ipv6=true'];

const forced = (backend: Backend, args: readonly string[]) => [...args, '--force-iptables-binary', backend];

/** Everything a run may change in a namespace, as text: rules of both backends, ip rules, routes, lo's addresses. */
async function snapshot(ns: Namespace): Promise<string> {
  const parts: string[] = [];
  for (const binary of ['iptables-nft', 'ip6tables-nft', 'iptables-legacy', 'ip6tables-legacy'])
    parts.push(`## ${binary}`, await ns.save(binary));
  // A route table that does not exist is an error to `ip`, and as empty as one that does.
  for (const args of [
    ['rule'],
    ['-6', 'rule'],
    ['route', 'show', 'table', '133'],
    ['-6', 'route', 'show', 'table', '133'],
    ['-6', 'addr', 'show', 'dev', 'lo'],
  ])
    parts.push(`## ip ${args.join(' ')}`, (await ns.exec('ip', args, { reject: false })).stdout);
  // Empty tables a state read leaves behind are not state anyone owns; legacy lists tables in
  // the order they were first used, which is no part of the state either.
  return parts
    .join('\n')
    .replace(/\n+/g, '\n')
    .split(/(?=^##)/m)
    .map((section) => {
      const [head = '', ...tables] = section.split(/(?=^\*)/m);
      return (
        head +
        tables
          .filter((table) => /^(-A |:ISTIO)/m.test(table))
          .sort()
          .join('')
      );
    })
    .join('');
}

/** The state one run alone leaves in a fresh namespace. */
async function planState(args: readonly string[]): Promise<string> {
  return withNamespace('plan', async (ns) => {
    const run = await runTool([...args, '--network-namespace', ns.path]);
    expect(run.code, run.stderr).toBe(0);
    return snapshot(ns);
  });
}

describe.skipIf(kernelSkipReason)('runs at once into one namespace', () => {
  for (const backend of BACKENDS) {
    test(`${backend}: six identical runs at once all exit 0 and leave the plan, once (three tries)`, async () => {
      const args = forced(backend, TPROXY);
      const plan = await planState(args);
      expect(plan.match(/fwmark 0x539 lookup 133/g)).toHaveLength(2);
      for (let attempt = 0; attempt < 3; attempt++) {
        await withNamespace('six', async (ns) => {
          const runs = await Promise.all(
            Array.from({ length: 6 }, () => runTool([...args, '--network-namespace', ns.path])),
          );
          expect(
            runs.map((r) => r.code),
            runs.map((r) => r.stderr).join('\n---\n'),
          ).toEqual([0, 0, 0, 0, 0, 0]);
          expect(await snapshot(ns)).toBe(plan);
        });
      }
    });

    test(`${backend}: the same without the native helper (util-linux flock and nsenter)`, async () => {
      const args = forced(backend, TPROXY);
      const plan = await planState(args);
      await withNamespace('six', async (ns) => {
        const runs = await Promise.all(
          Array.from({ length: 6 }, () =>
            runTool([...args, '--network-namespace', ns.path], { ISTIO_IPTABLES_NATIVE: '0' }),
          ),
        );
        expect(
          runs.map((r) => r.code),
          runs.map((r) => r.stderr).join('\n---\n'),
        ).toEqual([0, 0, 0, 0, 0, 0]);
        expect(await snapshot(ns)).toBe(plan);
      });
    });

    test(`${backend}: REDIRECT and TPROXY racing leave exactly one plan, the last one applied`, async () => {
      const plans = { R: await planState(forced(backend, REDIRECT)), T: await planState(forced(backend, TPROXY)) };
      // A stand-in restore logs the mode of each payload it restored for good, in the order restored.
      await withStandIns({ log: [`iptables-${backend}-restore`, `ip6tables-${backend}-restore`] }, async (env, dir) => {
        await withNamespace('mix', async (ns) => {
          const runs = await Promise.all(
            ['R', 'T', 'R', 'T'].map((mode) =>
              runTool([...forced(backend, mode === 'R' ? REDIRECT : TPROXY), '--network-namespace', ns.path], env),
            ),
          );
          expect(
            runs.map((r) => r.code),
            runs.map((r) => r.stderr).join('\n---\n'),
          ).toEqual([0, 0, 0, 0]);
          const restored = (await sh('cat', [`${dir}/restored`])).stdout.trim().split('\n');
          const last = restored.at(-1)?.split(' ')[0] as 'R' | 'T';
          expect(restored.length).toBeGreaterThanOrEqual(2);
          // Exactly the last plan: rules, ip rules and routes (a REDIRECT plan removes TPROXY's).
          const state = await snapshot(ns);
          expect(state, restored.join(', ')).toBe(plans[last]);
          expect(state).not.toBe(plans[last === 'R' ? 'T' : 'R']);
        });
      });
    });
  }

  test('the lock is per namespace: a run into another namespace does not wait; two spellings of one are one lock', async () => {
    await withNamespace('held', async (held) => {
      await withNamespace('free', async (free) => {
        // Another holder of held's lock, by the /proc/PID/ns/net spelling: a process in it.
        const holder = execa('nsenter', [
          `--net=${held.path}`,
          'sh',
          '-c',
          'exec 9</proc/self/ns/net; flock 9; echo held; exec sleep 60',
        ]);
        try {
          await new Promise((resolve) => holder.stdout?.once('data', resolve));
          const args = forced('nft', REDIRECT);
          const other = await runTool([...args, '--lock-timeout', '0', '--network-namespace', free.path]);
          expect(other.code, other.stderr).toBe(0);
          const before = await snapshot(held);
          const blocked = await runTool([...args, '--lock-timeout', '500ms', '--network-namespace', held.path]);
          expect(blocked.code).toBe(1);
          expect(blocked.stderr).toContain(
            `\terror\tanother run is working on network namespace ${held.path}: gave up waiting for its lock after 0.5s (held by pid ${holder.pid} (sleep))`,
          );
          expect(await snapshot(held)).toBe(before);
          // A run inside the namespace (an init container) locks it by /proc/self/ns/net: the same lock.
          const inside = await sh('nsenter', [`--net=${held.path}`, BIN, ...args, '--lock-timeout', '0'], {
            reject: false,
          });
          expect(inside.code).toBe(1);
          expect(inside.stderr).toContain('\terror\tanother run is working on this network namespace');
          // Runs that change nothing take no lock.
          for (const flag of ['--dry-run', '--skip-rule-apply']) {
            const unlocked = await runTool([...args, flag, '--lock-timeout', '0', '--network-namespace', held.path]);
            expect(unlocked.code, unlocked.stderr).toBe(0);
          }
        } finally {
          holder.kill('SIGKILL');
          await holder.catch(() => undefined);
        }
      });
    });
  });
});

/** Starts the tool, waits until a stand-in blocks, and returns the tool's process and the blocked stand-in's pid. */
async function runUntilBlocked(args: readonly string[], env: Record<string, string>, dir: string) {
  const tool = execa(BIN, args, { env, reject: false });
  for (let i = 0; i < 1000; i++) {
    const pid = await sh('cat', [`${dir}/blocked`], { reject: false });
    if (pid.code === 0 && pid.stdout.trim() !== '') return { tool, blocked: Number(pid.stdout.trim()) };
    if (tool.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const result = await tool;
  throw new Error(`the tool did not block (exit ${result.exitCode}): ${result.stderr}`);
}

describe.skipIf(kernelSkipReason)('killed in the middle', () => {
  /** Where to stop a dual-stack TPROXY run: the stand-in and which call of it blocks (or fails first). */
  const points = (backend: Backend) =>
    [
      ['in the first restore', { block: { [`iptables-${backend}-restore`]: 1 } }],
      ['between the families', { block: { [`ip6tables-${backend}-restore`]: 1 } }],
      ['between the restores and the routes', { block: { ip: 1 } }],
      [
        'during a rollback',
        { fail: { [`ip6tables-${backend}-restore`]: 1 }, block: { [`iptables-${backend}-restore`]: 2 } },
      ],
    ] as const;

  for (const backend of BACKENDS) {
    for (const [where, standIns] of points(backend)) {
      test(`${backend}: SIGKILL ${where}, then a re-run converges to the plan`, async () => {
        const args = forced(backend, TPROXY);
        const plan = await planState(args);
        await withNamespace('kill', async (ns) => {
          await withStandIns(standIns, async (env, dir) => {
            const { tool, blocked } = await runUntilBlocked([...args, '--network-namespace', ns.path], env, dir);
            tool.kill('SIGKILL');
            await tool;
            // The stand-in carries the lock: a run now would wait for it, as for the restore it stands for.
            const waiting = await runTool([...args, '--lock-timeout', '0', '--network-namespace', ns.path]);
            expect(waiting.code).toBe(1);
            expect(waiting.stderr).toContain('gave up waiting for its lock');
            process.kill(blocked, 'SIGKILL');
          });
          const rerun = await runTool([...args, '--network-namespace', ns.path]);
          expect(rerun.code, rerun.stderr).toBe(0);
          expect(await snapshot(ns)).toBe(plan);
        });
      });
    }

    test(`${backend}: SIGTERM during a restore: it finishes, the next change is not made, all is rolled back, exit 1`, async () => {
      const args = forced(backend, TPROXY);
      await withNamespace('term', async (ns) => {
        const before = await snapshot(ns);
        await withStandIns({ pause: { [`iptables-${backend}-restore`]: 1 } }, async (env, dir) => {
          const { tool, blocked } = await runUntilBlocked([...args, '--network-namespace', ns.path], env, dir);
          tool.kill('SIGTERM');
          // Let the paused restore go on: it restores the IPv4 rules for good.
          await new Promise((r) => setTimeout(r, 100));
          process.kill(blocked, 'SIGKILL');
          const result = await tool;
          expect(result.exitCode, result.stderr).toBe(1);
          expect(result.stderr).toContain('ipv4: rolled back to the state before this run');
          expect(result.stderr).toContain(
            '\terror\tstopped by SIGTERM: the run made no further change after the signal and rolled back what it had changed',
          );
        });
        expect(await snapshot(ns)).toBe(before);
      });
    });
  }
});

describe.skipIf(kernelSkipReason)('faults: a clear error, exit 1, nothing changed', () => {
  const args = forced('nft', TPROXY);

  // nsenter and flock are needed only without the native helper (ISTIO_IPTABLES_NATIVE=0 turns it off).
  for (const missing of ['ip', 'nsenter', 'ip6tables-nft-restore', 'flock']) {
    test(`${missing} missing is found before the first change`, async () => {
      const dir = await programDir((name) => name !== missing);
      try {
        await withNamespace('missing', async (ns) => {
          const before = await snapshot(ns);
          const env = { PATH: dir, ISTIO_IPTABLES_NATIVE: '0' };
          const result = await runTool([...args, '--network-namespace', ns.path], env);
          expect(result.code).toBe(1);
          expect(result.stderr).toContain(
            `\terror\tnot on PATH (${dir}), so nothing was changed:\n  ${missing}: needed for`,
          );
          expect(await snapshot(ns)).toBe(before);
        });
      } finally {
        await sh('rm', ['-rf', dir]);
      }
    });
  }

  test('with the native helper, neither flock nor nsenter is needed, and none is started', async () => {
    const dir = await programDir((name) => name !== 'flock' && name !== 'nsenter');
    try {
      await withNamespace('native', async (ns) => {
        const result = await runTool([...args, '--network-namespace', ns.path], { PATH: dir });
        expect(result.code, result.stderr).toBe(0);
        expect(await snapshot(ns)).toBe(await planState(args));
      });
    } finally {
      await sh('rm', ['-rf', dir]);
    }
  });

  /** The CLI inside the namespace with a private /run (a tmpfs; `ro`: read-only), legacy's lock there held or not. */
  const insideWithRun = (ns: Namespace, tmpfsOptions: string, holdXtablesLock: boolean, toolArgs: readonly string[]) =>
    sh(
      'nsenter',
      [
        `--net=${ns.path}`,
        'unshare',
        '--mount',
        'sh',
        '-c',
        [
          `mount -t tmpfs -o ${tmpfsOptions} tmpfs /run || exit 99`,
          holdXtablesLock
            ? "sh -c 'exec 9>/run/xtables.lock; flock 9; exec sleep 30' & H=$!; until ! flock -n /run/xtables.lock true; do sleep 0.05; done"
            : 'H=',
          '"$@"; rc=$?; [ -n "$H" ] && kill $H; exit $rc',
        ].join('\n'),
        'sh',
        BIN,
        ...toolArgs,
      ],
      { reject: false },
    );

  test("legacy's xtables lock held past the wait", async () => {
    await withNamespace('xtables', async (ns) => {
      const before = await snapshot(ns);
      const result = await insideWithRun(ns, 'rw', true, [...forced('legacy', TPROXY), '--lock-timeout', '1s']);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain('Another app is currently holding the xtables lock');
      expect(result.stderr).not.toContain('attempt 1 failed');
      // Its failed restore changed nothing, so no rollback waits for the lock again.
      expect(result.stderr).toContain('ipv4: unchanged, nothing to roll back');
      expect(result.stderr).not.toContain('rollback failed');
      expect(await snapshot(ns)).toBe(before);
    });
  });

  test('a read-only /run: legacy, whose lock lives there, fails cleanly; nft and our own lock do not need it', async () => {
    await withNamespace('ro-run', async (ns) => {
      const before = await snapshot(ns);
      const legacy = await insideWithRun(ns, 'ro', false, forced('legacy', TPROXY));
      expect(legacy.code, legacy.stderr).toBe(1);
      expect(legacy.stderr).toContain("can't open lock file /run/xtables.lock: Read-only file system");
      expect(legacy.stderr).not.toContain('rollback failed');
      expect(await snapshot(ns)).toBe(before);
      const nft = await insideWithRun(ns, 'ro', false, forced('nft', TPROXY));
      expect(nft.code, nft.stderr).toBe(0);
    });
  });

  test('the namespace disappearing mid-run', async () => {
    await withNamespace('gone', async (ns) => {
      await withStandIns({ run: { 'iptables-nft-restore': `ip netns del ${ns.name}` } }, async (env) => {
        const result = await runTool([...args, '--network-namespace', ns.path], env);
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`\terror\tnetwork namespace ${ns.path} went away during the run`);
      });
    });
  });

  test('the kernel refusing one rule: the error names it', async () => {
    await withNamespace('refused', async (ns) => {
      const before = await snapshot(ns);
      const refusal =
        'iptables-nft-restore v1.8.9 (nf_tables): \nline 5: RULE_APPEND failed (No such file or directory): rule in chain PREROUTING';
      await withStandIns({ refuse: { 'iptables-nft-restore': refusal } }, async (env) => {
        const result = await runTool([...args, '--network-namespace', ns.path], env);
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/ipv4 restore failed \(`iptables-nft-restore --noflush`, exit 4\)/);
        expect(result.stderr).toMatch(/payload line 5: -A PREROUTING -p tcp -j ISTIO_INBOUND|payload line 5: \S/);
      });
      expect(await snapshot(ns)).toBe(before);
    });
  });
});
