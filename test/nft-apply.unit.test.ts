/**
 * The nftables applier's contract, command by command, against a recording runner: what it
 * runs in each situation, in order, and what it refuses. The real kernel is in
 * nftables.kernel.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { applyNftables, type NftApplyOptions } from '../src/exec/nft/apply.js';
import { CommandFailedError } from '../src/errors.js';
import { planNftCapture } from '../src/plan/nft/plan-nft.js';
import { renderTransaction } from '../src/render/nft/transaction.js';
import { listedRule } from '../src/state/nft/listing.js';
import { REDIRECT_IPV4 } from './support/capture-config.js';
import { RecordingRunner, type Expectation } from './doubles/recording-runner.js';

const plan = planNftCapture(REDIRECT_IPV4);
const TEXT = renderTransaction(plan.transaction);
const NO_IDS = { users: new Map<string, number>(), groups: new Map<string, number>() };

/** The plan as nft lists it (counters with values), from the planned tables. */
const LISTING = plan.tables
  .map(
    (table) =>
      `table inet ${table.name} {\n${table.chains
        .map(({ chain, rules }) => {
          const hook = chain.base
            ? [`\t\ttype ${chain.base.type} hook ${chain.base.hook} priority ${chain.base.priority}; policy accept;`]
            : [];
          const lines = rules.map(
            (rule) => `\t\t${listedRule(rule, NO_IDS).replace(/counter/, 'counter packets 1 bytes 60')}`,
          );
          return `\tchain ${chain.name} {\n${[...hook, ...lines].join('\n')}\n\t}`;
        })
        .join('\n\n')}\n}\n`,
  )
  .join('');

const OPTIONS: NftApplyOptions = { cleanupOnly: false, reconcile: true, forceApply: false };

async function applyWith(expectations: Expectation[], options: Partial<NftApplyOptions> = {}) {
  const runner = new RecordingRunner(expectations);
  const logs: string[] = [];
  const deps = { runner, log: (line: string) => logs.push(line), readTextFile: async () => '' };
  const action = await applyNftables(plan, REDIRECT_IPV4, { ...OPTIONS, ...options }, deps);
  runner.assertDone();
  return { action, logs };
}

const list = (stdout: string): Expectation => ({ line: 'nft list ruleset', result: { stdout } });

describe('applyNftables', () => {
  it('into a namespace without our tables: list, apply upstream transaction, read back', async () => {
    const { action } = await applyWith([list(''), { line: 'nft -f -', input: TEXT }, list(LISTING)]);
    expect(action).toBe('applied');
  });

  it('changes nothing when the live tables are the plan; --force-apply replaces them', async () => {
    expect((await applyWith([list(LISTING)])).action).toBe('unchanged');
    const replace = `add table inet istio-proxy-nat\ndelete table inet istio-proxy-nat\n${TEXT}`;
    const forced = await applyWith([list(LISTING), { line: 'nft -f -', input: replace }, list(LISTING)], {
      forceApply: true,
    });
    expect(forced.action).toBe('reconciled');
  });

  it('refuses drift with --reconcile=false after reading only', async () => {
    const drifted = LISTING.replace('\t}\n}\n', '\t\tcounter accept\n\t}\n}\n');
    await expect(applyWith([list(drifted)], { reconcile: false })).rejects.toThrow(
      /replacing drifted rules was not allowed/,
    );
  });

  it('a transaction nft refuses (atomic: nothing of it applied) is reported with its stderr, and nothing else runs', async () => {
    const stderr = '/dev/stdin:3:1-4: Error: Could not process rule: No such file or directory\n';
    await expect(applyWith([list(''), { line: 'nft -f -', result: { exitCode: 1, stderr } }])).rejects.toThrow(
      'nftables run failed: /dev/stdin:3:1-4: Error: Could not process rule',
    );
  });

  it('skips the first listing where the kernel says there is no table at all', async () => {
    const runner = new RecordingRunner([{ line: 'nft -f -', input: TEXT }, list(LISTING)]);
    const deps = { runner, log: () => {}, readTextFile: async () => '', noTables: () => true };
    expect(await applyNftables(plan, REDIRECT_IPV4, OPTIONS, deps)).toBe('applied');
    runner.assertDone();
  });

  it('a read-back that differs puts the tables back as listed before (none here), then fails', async () => {
    const after = LISTING.replace('\t}\n}\n', '\t\tcounter drop\n\t}\n}\n');
    const restore =
      'add table inet istio-proxy-nat\ndelete table inet istio-proxy-nat\nadd table inet istio-proxy-mangle\ndelete table inet istio-proxy-mangle\nadd table inet istio-proxy-raw\ndelete table inet istio-proxy-raw\n';
    await expect(
      applyWith([list(''), { line: 'nft -f -', input: TEXT }, list(after), { line: 'nft -f -', input: restore }], {}),
    ).rejects.toThrow(/differ from the plan/);
  });

  it('nft missing: the error names the nftables package', async () => {
    const runner = {
      run: async () => {
        throw new CommandFailedError(['nft'], undefined, '', {
          message: 'could not run `nft`: no such program on PATH',
        });
      },
    };
    const deps = { runner, log: () => undefined, readTextFile: async () => '' };
    await expect(applyNftables(plan, REDIRECT_IPV4, OPTIONS, deps)).rejects.toThrow(/apt-get install nftables/);
  });

  it('--cleanup-only with nothing of ours live only reads', async () => {
    expect((await applyWith([list('table inet other {\n}\n')], { cleanupOnly: true })).action).toBe('cleaned');
  });

  it('unknown group names are refused before any command', async () => {
    const config = {
      ...REDIRECT_IPV4,
      outbound: { ...REDIRECT_IPV4.outbound, ownerGroups: { kind: 'only', items: ['java'] } },
    } as const;
    const runner = new RecordingRunner([]);
    const deps = { runner, log: () => undefined, readTextFile: async () => 'root:x:0:\nstaff:x:50:\n' };
    await expect(applyNftables(planNftCapture(config), config, OPTIONS, deps)).rejects.toThrow(
      /ISTIO_OUTBOUND_OWNER_GROUPS="java": no such group/,
    );
    expect(runner.calls).toEqual([]);
  });
});
