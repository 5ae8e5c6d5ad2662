/**
 * The executor against a recording runner: which commands run, in which order, with which
 * input — the process count per run, retries, rollback and refusals — without a kernel.
 */
import { describe, expect, test } from 'vitest';
import { applyCapture, type ApplyDeps } from '../src/exec/apply.js';
import { detectBackend, fnv1a64, lockFileFor } from '../src/exec/backend.js';
import { planCapture } from '../src/plan/plan-capture.js';
import { renderRestore } from '../src/render/restore.js';
import { resolveSettings } from '../src/config/settings.js';
import { toCaptureConfig } from '../src/config/to-capture-config.js';
import { RecordingRunner } from './doubles/recording-runner.js';
import { isIptablesError } from '../src/errors.js';
import { runValidation } from '../src/exec/validation.js';
import { probeScript } from '../src/cli/real-deps.js';

function parse(flags: Record<string, string | boolean>) {
  const { settings } = resolveSettings({
    flags: { 'enable-inbound-ipv6': false, 'proxy-uid': '1337', 'proxy-gid': '1337', ...flags },
    env: {},
  });
  return toCaptureConfig(settings);
}

const REDIRECT = { 'istio-inbound-ports': '*', 'istio-service-cidr': '*' };
const sleeps: number[] = [];
const deps = (runner: RecordingRunner, log: string[] = []): ApplyDeps => ({
  runner,
  log: (line) => log.push(line),
  retry: { attempts: 3, delayMs: 100, sleep: async (ms) => void sleeps.push(ms) },
});

/** What iptables-save prints after restoring a payload into empty tables: inserts applied, chains grouped. */
function savedFrom(payload: string): string {
  const out: string[] = [];
  let chains = new Map<string, string[]>();
  for (const line of payload.split('\n')) {
    const [op, chain = '', ...rest] = line.split(' ');
    if (op === '*') chains = new Map();
    if (op === '*') out.push(`*${chain}`);
    else if (op === '-N') chains.set(chain, []);
    else if (op === '-A') chains.set(chain, [...(chains.get(chain) ?? []), rest.join(' ')]);
    else if (op === '-I') chains.get(chain)?.splice(Number(rest[0]) - 1, 0, rest.slice(1).join(' '));
    else if (op === 'COMMIT') {
      for (const name of chains.keys()) if (name.startsWith('ISTIO_')) out.push(`:${name} - [0:0]`);
      for (const [name, rules] of chains) out.push(...rules.map((r) => `-A ${name} ${r}`));
      out.push('COMMIT');
    }
  }
  return `${out.join('\n')}\n`;
}

/** What iptables-save prints after restoring `payload` (one nat table) onto the nat table `before`: each chain's foreign rules, then ours. */
function savedOnto(before: string, payload: string): string {
  const ours = savedFrom(payload).split('\n');
  const theirs = before.split('\n');
  const declarations = [...theirs.filter((l) => l.startsWith(':')), ...ours.filter((l) => l.startsWith(':'))];
  const chainOf = (line: string) => line.split(' ')[1];
  const rules = declarations.flatMap((d) => {
    const chain = d.slice(1).split(' ')[0];
    return [...theirs, ...ours].filter((l) => l.startsWith('-A ') && chainOf(l) === chain);
  });
  return ['*nat', ...declarations, ...rules, 'COMMIT', ''].join('\n');
}

const NAT_BEFORE =
  '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A OUTPUT -p tcp --dport 9999 -j RETURN\nCOMMIT\n';
const CHAIN_EXISTS = { exitCode: 1, stderr: 'iptables-nft-restore: line 2 failed: Chain already exists.\n' };

describe('applying with a recording runner', () => {
  test('a re-run on matching rules: the restore fails on our chains, changing nothing, and the state read finds them matching', async () => {
    const { config, options } = parse(REDIRECT);
    const plan = planCapture(config);
    const live = savedFrom(renderRestore(plan.rulesets[0]!));
    const runner = new RecordingRunner([
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-restore --noflush', result: CHAIN_EXISTS },
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-save', result: { stdout: live } },
    ]);
    const log: string[] = [];
    const report = await applyCapture(plan, options, deps(runner, log));
    runner.assertDone();
    expect(report.families[0]?.action).toBe('unchanged');
    expect(log).toEqual(['ipv4 (nft): the live rules already match the plan; nothing to do']);
  });

  test("a first IPv4 run spawns three processes: legacy's state read, the restore, one read-back; foreign rules stay", async () => {
    const { config, options } = parse(REDIRECT);
    const plan = planCapture(config);
    const payload = renderRestore(plan.rulesets[0]!);
    const runner = new RecordingRunner([
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-restore --noflush', input: payload },
      { line: 'iptables-nft-save', result: { stdout: savedOnto(NAT_BEFORE, payload) } },
    ]);
    const log: string[] = [];
    const report = await applyCapture(plan, options, deps(runner, log));
    runner.assertDone();
    expect(report.families).toEqual([{ family: 'ipv4', variant: 'nft', action: 'applied' }]);
    expect(log).toEqual([
      // The foreign RETURN sits before our jump in nat OUTPUT: its traffic is not captured.
      'warning: ipv4 nat OUTPUT: -A OUTPUT -p tcp --dport 9999 -j RETURN: comes before our jump and ends the chain, so the traffic it matches bypasses the proxy',
      `ipv4 (nft): no rules of ours yet; applied ${plan.rulesets[0]!.ops.length} rules`,
    ]);
  });

  test('rules of ours live in another table: the first restore is put back exactly, then the careful way reconciles', async () => {
    const { config, options } = parse(REDIRECT);
    const plan = planCapture(config);
    const payload = renderRestore(plan.rulesets[0]!);
    const leftover =
      '*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:ISTIO_OUTPUT_DNS - [0:0]\n-A OUTPUT -j ISTIO_OUTPUT_DNS\nCOMMIT\n';
    const log: string[] = [];
    const runner = new RecordingRunner([
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-restore --noflush', input: payload },
      { line: 'iptables-nft-save', result: { stdout: leftover + savedOnto(NAT_BEFORE, payload) } },
      // Put back: the nat table replaced by what it held before, foreign rule included.
      { line: 'iptables-nft-restore', input: NAT_BEFORE },
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-save', result: { stdout: leftover + NAT_BEFORE } },
      {
        line: 'iptables-nft-restore --noflush',
        input: (input) => {
          expect(input).toContain('-D OUTPUT -j ISTIO_OUTPUT_DNS\n-X ISTIO_OUTPUT_DNS\n');
          expect(input).not.toContain('9999');
        },
      },
      { line: 'iptables-nft-save', result: { stdout: savedOnto(NAT_BEFORE, payload) } },
    ]);
    const report = await applyCapture(plan, options, deps(runner, log));
    runner.assertDone();
    expect(report.families[0]?.action).toBe('reconciled');
    expect(log[0]).toBe(
      'ipv4 (nft): the rules read back are not just the plan; putting back what was applied, then reading the state first',
    );
    expect(log[1]).toContain('raw ISTIO_OUTPUT_DNS: chain not in the plan');
  });

  test('legacy with rules is kept, with the lock wait and a namespace-scoped lock file', async () => {
    const runner = new RecordingRunner([
      {
        line: 'iptables-legacy-save',
        result: { stdout: '# Generated by iptables-save v1.8.9\n*nat\n-A OUTPUT -j RETURN\nCOMMIT\n' },
      },
    ]);
    const { backend } = await detectBackend(runner, 'ipv4', { forced: 'auto', netnsPath: '/var/run/netns/pod' });
    expect(backend.variant).toBe('legacy');
    expect(backend.writeSuffix).toEqual(['--wait=30']);
    expect(backend.env.XTABLES_LOCKFILE).toBe(`/run/xtables-${fnv1a64('/var/run/netns/pod')}.lock`);
    runner.assertDone();
  });

  test('without legacy tables (known from the kernel), only nft is read', async () => {
    const runner = new RecordingRunner([{ line: 'iptables-nft-save', result: { stdout: '' } }]);
    const { backend } = await detectBackend(runner, 'ipv4', { forced: 'auto', legacyTables: false });
    expect(backend.variant).toBe('nft');
    runner.assertDone();
  });

  test('without legacy tables, legacy is still read when nft cannot be', async () => {
    const runner = new RecordingRunner([
      { line: 'ip6tables-nft-save', result: { exitCode: 1, stderr: 'nft: not supported' } },
      { line: 'ip6tables-legacy-save', result: { stdout: '' } },
      { line: 'ip6tables-legacy-save --version', result: { stdout: 'ip6tables-save v1.8.9 (legacy)\n' } },
    ]);
    const { backend } = await detectBackend(runner, 'ipv6', { forced: 'auto', legacyTables: false });
    expect(backend.variant).toBe('legacy');
    runner.assertDone();
  });

  test('a first run in its own namespace asks the kernel about legacy tables and spawns two processes: the restore and one read-back', async () => {
    const { config, options } = parse(REDIRECT);
    const plan = planCapture(config);
    const payload = renderRestore(plan.rulesets[0]!);
    const asked: string[] = [];
    const runner = new RecordingRunner([
      { line: 'iptables-nft-restore --noflush', input: payload },
      { line: 'iptables-nft-save', result: { stdout: savedFrom(payload) } },
    ]);
    await applyCapture(plan, options, {
      ...deps(runner),
      legacyTables: (family) => {
        asked.push(family);
        return false;
      },
    });
    runner.assertDone();
    expect(asked).toEqual(['ipv4']);
  });

  test('lock file names: FNV-1a 64 (published test vectors), one per namespace path', () => {
    expect(['', 'a', 'foobar'].map(fnv1a64)).toEqual(['cbf29ce484222325', 'af63dc4c8601ec8c', '85944171f73967e8']);
    expect(lockFileFor('/var/run/netns/a')).not.toBe(lockFileFor('/var/run/netns/b'));
  });

  test('state reads refused for lack of privileges say so, not that a backend is missing', async () => {
    const denied = (binary: string) => ({
      exitCode: 4,
      stderr: `${binary} v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)`,
    });
    const runner = new RecordingRunner([
      {
        line: 'iptables-legacy-save',
        result: { exitCode: 1, stderr: 'Failed to list table names in /proc/net/ip_tables_names: Permission denied' },
      },
      { line: 'iptables-nft-save', result: denied('iptables-nft-save') },
      // The table list is root-only; the tables named one by one are read instead.
      {
        line: 'iptables-legacy-save -t raw',
        result: {
          exitCode: 1,
          stderr: "iptables-legacy-save: can't initialize iptables table `raw': Permission denied",
        },
      },
      { line: 'iptables-save', result: denied('iptables-save') },
    ]);
    const error = await detectBackend(runner, 'ipv4', { forced: 'auto' }).catch((e: unknown) => e);
    expect(isIptablesError(error) && error.code).toBe('NOT_PRIVILEGED');
    expect(String(error)).toContain('not permitted to change netfilter rules');
    expect(String(error)).toContain('iptables-nft-save: exit 4');
  });

  test('no usable backend names every binary tried and the likely modules', async () => {
    const fail = { exitCode: 1, stderr: "can't initialize iptables table `nat': Table does not exist" };
    const runner = new RecordingRunner([
      { line: 'ip6tables-legacy-save', result: fail },
      { line: 'ip6tables-nft-save', result: fail },
      { line: 'ip6tables-save', result: fail },
    ]);
    const error = await detectBackend(runner, 'ipv6', { forced: 'auto' }).catch((e: unknown) => e);
    expect(isIptablesError(error) && error.code).toBe('BINARY_NOT_FOUND');
    expect(String(error)).toContain('ip6tables-legacy-save: exit 1');
    expect(String(error)).toContain('ip6tables-nft-save: exit 1');
    expect(String(error)).toContain('ip6table_nat');
  });

  test('a busy xtables lock (legacy without --wait, exit 4) is retried with backoff, then succeeds', async () => {
    const { config, options } = parse(REDIRECT);
    const plan = planCapture(config);
    const payload = renderRestore(plan.rulesets[0]!);
    // iptables before 1.6.2 has no --wait: it gives up at once on a held lock.
    const legacy = `# Generated by iptables-save v1.6.1 on Mon Nov 30 2026\n${NAT_BEFORE}`;
    const busy = { exitCode: 4, stderr: 'Another app is currently holding the xtables lock.' };
    const runner = new RecordingRunner([
      // Legacy holds a rule: legacy it is, and the careful way.
      { line: 'iptables-legacy-save', result: { stdout: legacy } },
      { line: 'iptables-legacy-save', result: { stdout: legacy } },
      { line: 'iptables-nft-save' },
      { line: 'iptables-legacy-restore --noflush', result: busy },
      { line: 'iptables-legacy-restore --noflush', result: busy },
      { line: 'iptables-legacy-restore --noflush', input: payload },
      { line: 'iptables-legacy-save', result: { stdout: savedOnto(NAT_BEFORE, payload) } },
    ]);
    sleeps.length = 0;
    const log: string[] = [];
    await applyCapture(plan, options, deps(runner, log));
    runner.assertDone();
    expect(sleeps).toEqual([100, 200]);
    expect(log.join('\n')).toContain('waiting 200 ms');
  });

  test('--lock-timeout comes from the flag, its env var, or the config key LOCK_TIMEOUT (Go nanoseconds); default 30s', () => {
    const timeout = (
      input: Omit<Parameters<typeof resolveSettings>[0], 'flags'> & { flags?: Record<string, string> },
    ) =>
      toCaptureConfig(
        resolveSettings({
          flags: { 'enable-inbound-ipv6': false, 'proxy-uid': '1337', 'proxy-gid': '1337', ...input.flags },
          env: input.env,
          ...(input.config ? { config: input.config } : {}),
        }).settings,
      ).options.lockTimeoutMs;
    expect(timeout({ env: {} })).toBe(30_000);
    expect(timeout({ env: {}, flags: { 'lock-timeout': '1m30s' } })).toBe(90_000);
    expect(timeout({ env: { ISTIO_IPTABLES_LOCK_TIMEOUT: '250ms' } })).toBe(250);
    expect(timeout({ env: {}, config: { LOCK_TIMEOUT: 2_500_000_000 } })).toBe(2500);
  });

  test('with --wait (the CLI sets it from --lock-timeout), iptables waited itself: a held xtables lock is not waited for again', async () => {
    const { config, options: parsed } = parse(REDIRECT);
    const options = { ...parsed, lockWaitSeconds: 3 };
    const plan = planCapture(config);
    const legacy = `# Generated by iptables-save v1.8.9 on Mon Nov 30 2026\n${NAT_BEFORE}`;
    const busy = {
      exitCode: 4,
      stderr: 'Another app is currently holding the xtables lock. Stopped waiting after 3s.\n',
    };
    const runner = new RecordingRunner([
      { line: 'iptables-legacy-save', result: { stdout: legacy } },
      { line: 'iptables-legacy-save', result: { stdout: legacy } },
      { line: 'iptables-nft-save' },
      // A lock failure commits nothing: no state read, no rollback.
      { line: 'iptables-legacy-restore --noflush --wait=3', result: busy },
    ]);
    sleeps.length = 0;
    const log: string[] = [];
    const error = await applyCapture(plan, options, deps(runner, log)).catch((e: unknown) => e);
    runner.assertDone();
    expect(sleeps).toEqual([]);
    expect(String(error)).toContain('Stopped waiting after 3s');
    // No rollback restore, which would wait for the lock again and fail the same way.
    expect(isIptablesError(error) && error.rollbackProblems).toEqual([]);
    expect(log.at(-1)).toBe('ipv4: unchanged, nothing to roll back');
  });

  test('nft exiting 4 (a commit the kernel refused: nft has no lock) is not retried, and the error names the line', async () => {
    const { config, options } = parse(REDIRECT);
    const plan = planCapture(config);
    const refused = {
      exitCode: 4,
      stderr:
        'iptables-nft-restore v1.8.9 (nf_tables): \nline 7: RULE_APPEND failed (Invalid argument): rule in chain OUTPUT\n',
    };
    const runner = new RecordingRunner([
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-restore --noflush', result: refused },
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-save' },
      { line: 'iptables-nft-restore --noflush', result: refused },
    ]);
    sleeps.length = 0;
    const error = await applyCapture(plan, options, deps(runner)).catch((e: unknown) => e);
    runner.assertDone();
    expect(sleeps).toEqual([]);
    expect(isIptablesError(error) && error.code).toBe('RESTORE_FAILED');
    expect(String(error)).toContain(`payload line 7: ${renderRestore(plan.rulesets[0]!).split('\n')[6]}`);
  });

  test('a failing IPv6 restore rolls IPv4 back to the state read before', async () => {
    const { config, options } = parse({ ...REDIRECT, 'enable-inbound-ipv6': true });
    const plan = planCapture(config);
    const before = NAT_BEFORE;
    const failed = { exitCode: 1, stderr: 'ip6tables-restore: line 3 failed' };
    const log: string[] = [];
    const runner = new RecordingRunner([
      // Restoring first: IPv4 applies, IPv6 fails; IPv4 is put back from its read-back.
      { line: 'iptables-legacy-save' },
      { line: 'ip6tables-legacy-save' },
      { line: 'iptables-nft-restore --noflush' },
      { line: 'ip6tables-nft-restore --noflush', result: failed },
      { line: 'iptables-nft-save', result: { stdout: savedOnto(before, renderRestore(plan.rulesets[0]!)) } },
      { line: 'iptables-nft-restore', input: before },
      // The careful way: the same failure, reported, and IPv4 rolled back to the state it read.
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-save', result: { stdout: before } },
      { line: 'ip6tables-legacy-save' },
      { line: 'ip6tables-nft-save' },
      { line: 'iptables-nft-restore --noflush' },
      { line: 'ip6tables-nft-restore --noflush', result: failed },
      // IPv6's restore failed in its first table, which commits as one: nothing to roll back there.
      // IPv4 changed: the rollback restores the nat table exactly as it was, replacing (not --noflush) it.
      { line: 'iptables-nft-save', result: { stdout: savedOnto(before, renderRestore(plan.rulesets[0]!)) } },
      { line: 'iptables-nft-restore', input: before },
    ]);
    const error = await applyCapture(plan, options, deps(runner, log)).catch((e: unknown) => e);
    runner.assertDone();
    expect(log[0]).toBe(
      'ipv6 (nft): restoring before reading failed; putting back what was applied, then reading the state first',
    );
    expect(isIptablesError(error) && error.code).toBe('RESTORE_FAILED');
    expect(String(error)).toContain('payload line 3: -N ISTIO_REDIRECT');
    expect(isIptablesError(error) && error.rollbackProblems).toEqual([]);
    expect(log.slice(-2)).toEqual([
      'ipv6: unchanged, nothing to roll back',
      'ipv4: rolled back to the state before this run',
    ]);
  });

  test('a read-back that differs from the plan fails the run and rolls back', async () => {
    const { config, options } = parse(REDIRECT);
    const plan = planCapture(config);
    const payload = renderRestore(plan.rulesets[0]!);
    const readBack = savedOnto(NAT_BEFORE, payload).replace(/^-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n/m, '');
    const runner = new RecordingRunner([
      // Restoring first: the read-back differs, so the restore is put back and the run starts over.
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-restore --noflush' },
      { line: 'iptables-nft-save', result: { stdout: readBack } },
      { line: 'iptables-nft-restore', input: NAT_BEFORE },
      // The careful way: the same difference fails the run, and the rollback restores the state read.
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-save', result: { stdout: NAT_BEFORE } },
      { line: 'iptables-nft-restore --noflush' },
      { line: 'iptables-nft-save', result: { stdout: readBack } },
      { line: 'iptables-nft-save', result: { stdout: readBack } },
      { line: 'iptables-nft-restore', input: NAT_BEFORE },
    ]);
    const error = await applyCapture(plan, options, deps(runner)).catch((e: unknown) => e);
    runner.assertDone();
    expect(isIptablesError(error) && error.rollbackProblems).toEqual([]);
    expect(isIptablesError(error) && error.code).toBe('VERIFY_FAILED');
    expect(String(error)).toContain('nat ISTIO_OUTPUT: rule 9 should be `-A ISTIO_OUTPUT -j ISTIO_REDIRECT`');
  });

  test('--reconcile=false on drifted rules changes nothing', async () => {
    const { config, options } = parse({ ...REDIRECT, reconcile: false });
    const plan = planCapture(config);
    const drifted = savedFrom(renderRestore(plan.rulesets[0]!)).replace(/^-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n/m, '');
    const runner = new RecordingRunner([
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-restore --noflush', result: CHAIN_EXISTS },
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-save', result: { stdout: drifted } },
    ]);
    const error = await applyCapture(plan, options, deps(runner)).catch((e: unknown) => e);
    runner.assertDone();
    expect(String(error)).toContain('Nothing was changed');
  });

  test('without privileges the error says so', async () => {
    const { config, options } = parse(REDIRECT);
    const denied = {
      exitCode: 1,
      stderr:
        'iptables-restore v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)',
    };
    const runner = new RecordingRunner([
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-restore --noflush', result: denied },
    ]);
    const error = await applyCapture(planCapture(config), options, deps(runner)).catch((e: unknown) => e);
    runner.assertDone();
    expect(isIptablesError(error) && error.code).toBe('NOT_PRIVILEGED');
    expect(String(error)).toContain('CAP_NET_ADMIN');
  });

  test('TPROXY adds its policy rule only when `ip rule show` lacks it, and tolerates an existing route', async () => {
    const { config, options } = parse({ ...REDIRECT, 'istio-inbound-interception-mode': 'TPROXY' });
    const plan = planCapture(config);
    const live = savedFrom(renderRestore(plan.rulesets[0]!));
    const runner = new RecordingRunner([
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-save', result: { stdout: live } },
      // Live rules of ours carry mark 1337: is an earlier configuration's rule for it left? No.
      {
        line: 'ip rule show',
        result: { stdout: '0:\tfrom all lookup local\n32765:\tfrom all fwmark 0x539 lookup 133\n' },
      },
      // Before any write: the mark's policy rule and the table are ours (or unused).
      {
        line: 'ip rule show',
        result: { stdout: '0:\tfrom all lookup local\n32765:\tfrom all fwmark 0x539 lookup 133\n' },
      },
      { line: 'ip route show table 133', result: { stdout: 'local default dev lo scope host \n' } },
      {
        line: 'ip rule show',
        result: { stdout: '0:\tfrom all lookup local\n32765:\tfrom all fwmark 0x539 lookup 133\n' },
      },
      {
        line: 'ip route add local 0.0.0.0/0 dev lo table 133',
        result: { exitCode: 2, stderr: 'RTNETLINK answers: File exists' },
      },
    ]);
    await applyCapture(plan, options, deps(runner));
    runner.assertDone();
  });

  test("REDIRECT after TPROXY: TPROXY's policy rule and route go before the rules change, and come back when the change fails", async () => {
    const { config, options } = parse(REDIRECT);
    const plan = planCapture(config);
    const tproxy = planCapture(parse({ ...REDIRECT, 'istio-inbound-interception-mode': 'TPROXY' }).config);
    const live = savedFrom(renderRestore(tproxy.rulesets[0]!));
    const listing = '0:\tfrom all lookup local\n32765:\tfrom all fwmark 0x539 lookup 133\n';
    const runner = new RecordingRunner([
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-restore --noflush', result: CHAIN_EXISTS },
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-save', result: { stdout: live } },
      // The live CONNMARK rules carry mark 1337: its policy rule and table 133 are TPROXY's.
      { line: 'ip rule show', result: { stdout: listing } },
      { line: 'ip route show table 133', result: { stdout: 'local default dev lo scope host \n' } },
      { line: 'ip route del local 0.0.0.0/0 dev lo table 133' },
      { line: 'ip rule show', result: { stdout: listing } },
      { line: 'ip rule del fwmark 1337 lookup 133' },
      {
        line: 'iptables-nft-restore --noflush',
        result: { exitCode: 1, stderr: 'iptables-nft-restore: line 3 failed' },
      },
      // Line 3 is in the payload's first table: nothing committed, no rules to roll back.
      // The failed change put back: the routing too.
      { line: 'ip rule show', result: { stdout: '0:\tfrom all lookup local\n' } },
      { line: 'ip rule add fwmark 1337 lookup 133' },
      { line: 'ip route add local 0.0.0.0/0 dev lo table 133' },
    ]);
    const error = await applyCapture(plan, options, deps(runner)).catch((e: unknown) => e);
    runner.assertDone();
    expect(isIptablesError(error) && error.code).toBe('RESTORE_FAILED');
  });

  test('commands go through nsenter for --network-namespace', async () => {
    const { config, options } = parse(REDIRECT);
    const plan = planCapture(config);
    const runner = new RecordingRunner([
      { line: 'nsenter --net=/var/run/netns/pod -- iptables-legacy-save' },
      { line: 'nsenter --net=/var/run/netns/pod -- iptables-nft-restore --noflush', result: CHAIN_EXISTS },
      { line: 'nsenter --net=/var/run/netns/pod -- iptables-legacy-save' },
      {
        line: 'nsenter --net=/var/run/netns/pod -- iptables-nft-save',
        result: { stdout: savedFrom(renderRestore(plan.rulesets[0]!)) },
      },
    ]);
    await applyCapture(plan, { ...options, networkNamespace: '/var/run/netns/pod' }, deps(runner));
    runner.assertDone();
  });
});

test('from outside, with legacy iptables not loaded in the kernel, a first run starts two processes', async () => {
  const { config, options } = parse(REDIRECT);
  const plan = planCapture(config);
  const payload = renderRestore(plan.rulesets[0]!);
  const runner = new RecordingRunner([
    { line: 'nsenter --net=/var/run/netns/pod -- iptables-nft-restore --noflush', input: payload },
    { line: 'nsenter --net=/var/run/netns/pod -- iptables-nft-save', result: { stdout: savedFrom(payload) } },
  ]);
  await applyCapture(
    plan,
    { ...options, networkNamespace: '/var/run/netns/pod' },
    { ...deps(runner), legacyTables: () => false },
  );
  runner.assertDone();
});

describe('--run-validation', () => {
  const settings = {
    script: probeScript(),
    family: 'ipv4' as const,
    proxyPort: 15001,
    capturePort: 15006,
    probePort: 15002,
    timeoutMs: 1500.5,
  };

  test('runs the probe with the settings, bounded a little past --probe-timeout, and logs its report', async () => {
    const runner = new RecordingRunner([
      {
        line: `${process.execPath} ${probeScript()} 127.0.0.1 127.0.0.6 15001,15006 15002 1500.5`,
        result: { stderr: 'Validation passed\n' },
      },
    ]);
    const logged: string[] = [];
    await runValidation(runner, settings, (line) => logged.push(line));
    runner.assertDone();
    expect(runner.calls[0]?.timeoutMs).toBe(11_501);
    expect(logged).toEqual(['Validation passed']);
  });

  test('a failed probe is a ValidationFailedError (exit 126)', async () => {
    const runner = new RecordingRunner([
      {
        line: `${process.execPath} ${probeScript()} ::1 ::6 15001,15006 15002 1500.5`,
        result: { exitCode: 3, stderr: 'validation timeout\n' },
      },
    ]);
    const error = await runValidation(runner, { ...settings, family: 'ipv6' as const }, () => undefined).catch(
      (e: unknown) => e,
    );
    expect(isIptablesError(error) && error.code).toBe('VALIDATION_FAILED');
  });
});
