/**
 * Applying a plan for real, all or nothing. A first run into a namespace with none of our
 * rules, the usual case, restores first and reads once, after (see applyFirstRun). Otherwise:
 * 1. per family, detect the backend; the state read that decides is also the live state;
 * 2. compare it with the plan: clean → upstream's payload; already applied → nothing (unless
 *    --force-apply); drifted → one restore transaction that replaces what is ours
 *    (--reconcile, the default), or a refusal that changes nothing;
 * 3. apply the families in order; if one fails, restore the ones already applied to the
 *    state read in step 1;
 * 4. read each applied family back and compare with the plan; a difference rolls back too;
 * 5. add the ip rules/routes and ::6 that are missing.
 */
import {
  CommandFailedError,
  IptablesError,
  NOT_PERMITTED,
  NotPrivilegedError,
  RestoreFailedError,
  VerifyError,
} from '../errors.js';
import type { RunOptions } from '../config/capture-config.js';
import type { IpFamily } from '../model/family.js';
import { isBuiltinChain } from '../model/chains.js';
import type { Ruleset, TableName } from '../model/netfilter.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import { renderRestore } from '../render/restore.js';
import type { CanonicalOptions } from '../state/canonical.js';
import { compareState, expectedState, hasOwnedState, type ExpectedState } from '../state/compare.js';
import { parseSave, type NetfilterState } from '../state/save-parser.js';
import {
  cleanupPayload,
  payloadTables,
  replacePayload,
  rollbackPayload,
  stateBeforeRestore,
} from '../state/transactions.js';
import { detectBackend, nftWithoutItsState, type Backend, type DetectOptions } from './backend.js';
import type { CommandRunner } from './command.js';
import { applyNetwork, removeNetwork } from './network.js';
import { netnsRunner } from './netns.js';
import { retry, type RetryPolicy } from './retry.js';

/**
 * iptables' exit code for a resource problem, such as the xtables lock being held. Only legacy
 * has that lock; iptables-nft exits 4 when the kernel refuses a commit, which no retry mends.
 */
const XTABLES_RESOURCE_PROBLEM = 4;

export interface ApplyDeps {
  readonly runner: CommandRunner;
  readonly log: (line: string) => void;
  readonly retry: Omit<RetryPolicy, 'onRetry'>;
  readonly canonical?: CanonicalOptions;
  /** Whether legacy iptables has tables in the namespace, when known without a process (see DetectOptions). */
  readonly legacyTables?: (family: IpFamily) => boolean | undefined;
}

/** What a run did, per family, for logs and tests. */
export interface ApplyReport {
  readonly families: readonly {
    readonly family: string;
    readonly variant: string;
    readonly action: 'applied' | 'reconciled' | 'unchanged' | 'cleaned';
  }[];
}

interface FamilyRun {
  readonly ruleset: Ruleset;
  readonly backend: Backend;
  readonly before: string;
  readonly live: NetfilterState;
  readonly expected: ExpectedState;
}

class Iptables {
  constructor(
    private readonly runner: CommandRunner,
    private readonly deps: ApplyDeps,
  ) {}

  async restore(backend: Backend, payload: string, noflush: boolean): Promise<void> {
    const command = {
      file: `${backend.binary}-restore`,
      args: [...(noflush ? ['--noflush'] : []), ...backend.writeSuffix],
      input: payload,
      env: backend.env,
    };
    const result = await retry(
      () => this.runner.run(command),
      // With --wait, iptables has waited for the lock itself: another wait would only double it.
      (r) =>
        backend.variant === 'legacy' && backend.writeSuffix.length === 0 && r.exitCode === XTABLES_RESOURCE_PROBLEM,
      {
        ...this.deps.retry,
        onRetry: (attempt, delayMs) =>
          this.deps.log(
            `${backend.family}: iptables is busy (xtables lock held?), attempt ${attempt} failed; waiting ${delayMs} ms`,
          ),
      },
    );
    if (result.exitCode === 0) return;
    if (NOT_PERMITTED.test(result.stderr)) throw new NotPrivilegedError(result.stderr.trim());
    throw new RestoreFailedError(
      backend.family,
      [command.file, ...command.args],
      result.exitCode,
      result.stderr,
      payload,
    );
  }

  async save(backend: Backend): Promise<string> {
    const command = { file: `${backend.binary}-save`, args: [] };
    const result = await this.runner.run(command);
    if (result.exitCode !== 0) throw new CommandFailedError([command.file], result.exitCode, result.stderr);
    return result.stdout;
  }
}

function detectOptions(family: IpFamily, options: RunOptions, deps: ApplyDeps): DetectOptions {
  const legacyTables = deps.legacyTables?.(family);
  return {
    forced: options.iptables,
    lockWaitSeconds: Math.ceil(options.lockTimeoutMs / 1000),
    ...(options.networkNamespace ? { netnsPath: options.networkNamespace } : {}),
    ...(legacyTables === undefined ? {} : { legacyTables }),
  };
}

export async function applyCapture(plan: CapturePlan, options: RunOptions, deps: ApplyDeps): Promise<ApplyReport> {
  const runner = netnsRunner(deps.runner, options.networkNamespace);
  const iptables = new Iptables(runner, deps);
  if (!options.cleanupOnly) {
    const report = await applyFirstRun(plan, options, iptables, runner, deps);
    if (report) return report;
  }
  // The families' state reads are independent and change nothing: a runner may run them at
  // once (the CLI's runs its commands one at a time, see process-runner.ts).
  const runs: FamilyRun[] = await inOrder(
    plan.rulesets.map(async (ruleset) => {
      const detecting = detectBackend(runner, ruleset.family, detectOptions(ruleset.family, options, deps));
      const expected = expectedState(ruleset, deps.canonical);
      const { backend, state } = await detecting;
      return { ruleset, backend, before: state, live: parseSave(state, deps.canonical), expected };
    }),
  );
  return options.cleanupOnly
    ? cleanup(runs, plan, iptables, runner, deps)
    : apply(runs, plan, options, iptables, runner, deps);
}

/**
 * The one table a ruleset writes, when it writes a single table and only appends to built-in
 * chains: the shape restoring first needs (one transaction; our rules at the chains' ends).
 */
function singleTable(ruleset: Ruleset): TableName | undefined {
  const tables = new Set(ruleset.ops.map((op) => op.rule.table));
  if (tables.size !== 1 || ruleset.ops.some((op) => op.op === 'insert' && isBuiltinChain(op.rule.chain)))
    return undefined;
  return [...tables][0];
}

interface FirstRun {
  readonly ruleset: Ruleset;
  readonly backend: Backend;
  readonly table: TableName;
  readonly expected: ExpectedState;
  /** The state read back after the restore, once read. */
  after?: string;
}

/**
 * A first run restores before it reads, which saves the state read before the restore (one
 * process of three). It is safe because the payload declares each of our chains with `-N`,
 * which fails on a chain that exists, and a single-table payload is one transaction: on a
 * namespace with none of our chains in that table it applies whole, on any other it changes
 * nothing. The read-back then shows whether the whole state is the plan: anything of ours live
 * elsewhere (another table, another family) makes it differ. Taken only with the nft backend
 * known without reading nft's state, single-table payloads, and not for --cleanup-only.
 *
 * Returns undefined when the run must go the careful way (read, compare, apply): a restore
 * failed (a re-run: our chains exist), or the read-back is not the plan. Whatever was restored
 * is first put back exactly as it was (stateBeforeRestore), so the careful way starts from the
 * state the run found.
 */
async function applyFirstRun(
  plan: CapturePlan,
  options: RunOptions,
  iptables: Iptables,
  runner: CommandRunner,
  deps: ApplyDeps,
): Promise<ApplyReport | undefined> {
  const tables = plan.rulesets.map(singleTable);
  if (tables.length === 0 || tables.some((table) => table === undefined)) return undefined;
  const runs: FirstRun[] = [];
  for (const [i, ruleset] of plan.rulesets.entries()) {
    const backend = await nftWithoutItsState(runner, ruleset.family, detectOptions(ruleset.family, options, deps));
    if (!backend) return undefined;
    runs.push({ ruleset, backend, table: tables[i] as TableName, expected: expectedState(ruleset, deps.canonical) });
  }
  const restored: FirstRun[] = [];
  /** Puts back what was restored, newest first; each run is dropped from `restored` once put back. */
  const putBack = async () => {
    for (let run = restored.pop(); run; run = restored.pop()) {
      const before = stateBeforeRestore(
        run.after ?? (await iptables.save(run.backend)),
        run.table,
        run.expected,
        deps.canonical,
      );
      if (before === undefined)
        throw new VerifyError(run.ruleset.family, [
          `${run.table}: our rules are live, but the chains they went into changed meanwhile; left as they are`,
        ]);
      await iptables.restore(run.backend, rollbackPayload(before, [run.table]), false);
    }
  };
  const carefully = async (why: string) => {
    if (restored.length > 0) {
      deps.log(`${why}; putting back what was applied, then reading the state first`);
      await putBack();
    }
    return undefined;
  };
  try {
    for (const run of runs) {
      try {
        await iptables.restore(run.backend, renderRestore(run.ruleset), true);
      } catch (error) {
        // Our chains exist (a re-run), or the restore cannot work here: reading the state tells
        // which. Missing privileges stay missing, so they end the run here.
        if (!(error instanceof CommandFailedError)) throw error;
        return await carefully(`${run.ruleset.family} (nft): restoring before reading failed`);
      }
      restored.push(run);
    }
    for (const run of runs) {
      run.after = await iptables.save(run.backend);
      const verdict = compareState(run.expected, parseSave(run.after, deps.canonical));
      if (verdict.status !== 'match')
        return await carefully(`${run.ruleset.family} (nft): the rules read back are not just the plan`);
    }
    const added = await applyNetwork(runner, plan.network);
    for (const run of runs)
      deps.log(`${run.ruleset.family} (nft): no rules of ours yet; applied ${run.ruleset.ops.length} rules`);
    if (added.length > 0) deps.log(`added: ${added.map((s) => s.kind).join(', ')}`);
  } catch (error) {
    const problem = await putBack().then(
      () => undefined,
      (undo: unknown) => `rollback failed: ${(undo as Error).message}`,
    );
    if (problem && error instanceof IptablesError) error.message += `\n  ${problem}`;
    throw error;
  }
  return { families: runs.map((run) => ({ family: run.ruleset.family, variant: 'nft', action: 'applied' as const })) };
}

/** Like Promise.all, but when several fail, the first in order (not in time) is thrown. */
async function inOrder<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<T>).value);
}

/** A table's chains and rules, comparable as text; built-in chains without rules left out (an empty table is no change). */
function tableText(state: NetfilterState, table: TableName): string {
  return [...(state.get(table) ?? [])]
    .filter(([chain, rules]) => rules.length > 0 || !isBuiltinChain(chain))
    .map(([chain, rules]) => [chain, ...rules.map((rule) => rule.key)].join('\n'))
    .join('\n\n');
}

async function rollback(
  applied: readonly { run: FamilyRun; tables: TableName[] }[],
  iptables: Iptables,
  deps: ApplyDeps,
): Promise<string[]> {
  const problems: string[] = [];
  for (const { run, tables } of [...applied].reverse()) {
    try {
      // A restore that failed before changing anything (legacy's lock not taken, a refused
      // payload) needs no rollback, which would only repeat its failure (and its lock wait).
      const now = await iptables.save(run.backend).then(
        (text) => parseSave(text, deps.canonical),
        () => undefined,
      );
      if (now && tables.every((table) => tableText(now, table) === tableText(run.live, table))) {
        deps.log(`${run.ruleset.family}: unchanged, nothing to roll back`);
        continue;
      }
      await iptables.restore(run.backend, rollbackPayload(run.before, tables), false);
      deps.log(`${run.ruleset.family}: rolled back to the state before this run`);
    } catch (error) {
      problems.push(`${run.ruleset.family} rollback failed: ${(error as Error).message}`);
    }
  }
  return problems;
}

/** Runs `payloads` family by family; on any failure restores what was already changed. */
async function transact(
  work: readonly { run: FamilyRun; payload: string }[],
  iptables: Iptables,
  deps: ApplyDeps,
  after: (applied: readonly { run: FamilyRun; tables: TableName[] }[]) => Promise<void>,
): Promise<void> {
  const applied: { run: FamilyRun; tables: TableName[] }[] = [];
  try {
    for (const { run, payload } of work) {
      // Recorded before the attempt: a failed legacy restore may have committed some tables.
      applied.push({ run, tables: payloadTables(payload) });
      await iptables.restore(run.backend, payload, true);
    }
    await after(applied);
  } catch (error) {
    const problems = await rollback(applied, iptables, deps);
    if (problems.length > 0 && error instanceof IptablesError) error.message += `\n  ${problems.join('\n  ')}`;
    throw error;
  }
}

async function verify(run: FamilyRun, iptables: Iptables, deps: ApplyDeps): Promise<void> {
  const live = parseSave(await iptables.save(run.backend), deps.canonical);
  const verdict = compareState(run.expected, live);
  if (verdict.status === 'drift') throw new VerifyError(run.ruleset.family, verdict.differences);
  if (verdict.status === 'clean') throw new VerifyError(run.ruleset.family, ['none of the planned rules is live']);
}

async function apply(
  runs: readonly FamilyRun[],
  plan: CapturePlan,
  options: RunOptions,
  iptables: Iptables,
  runner: CommandRunner,
  deps: ApplyDeps,
): Promise<ApplyReport> {
  const work: { run: FamilyRun; payload: string }[] = [];
  const report: ApplyReport['families'][number][] = [];
  for (const run of runs) {
    const { family } = run.ruleset;
    const verdict = compareState(run.expected, run.live);
    const label = `${family} (${run.backend.variant})`;
    if (verdict.status === 'clean') {
      deps.log(`${label}: no rules of ours yet; applying ${run.ruleset.ops.length} rules`);
      work.push({ run, payload: renderRestore(run.ruleset) });
      report.push({ family, variant: run.backend.variant, action: 'applied' });
    } else if (verdict.status === 'match' && !options.forceApply) {
      deps.log(`${label}: the live rules already match the plan; nothing to do`);
      report.push({ family, variant: run.backend.variant, action: 'unchanged' });
    } else {
      const why =
        verdict.status === 'drift'
          ? `the live rules differ from the plan:\n  ${verdict.differences.join('\n  ')}`
          : 'the live rules match, but --force-apply is set';
      if (verdict.status === 'drift' && !options.reconcile) {
        throw new IptablesError(
          'DRIFT_NOT_RECONCILED',
          `${label}: ${why}\nNothing was changed: --reconcile=false forbids replacing them (drop it, or run --cleanup-only first).`,
        );
      }
      deps.log(`${label}: ${why}\n  replacing them in one transaction`);
      work.push({ run, payload: replacePayload(run.ruleset, run.live, run.expected) });
      report.push({ family, variant: run.backend.variant, action: 'reconciled' });
    }
  }
  await transact(work, iptables, deps, async (applied) => {
    await inOrder(applied.map(({ run }) => verify(run, iptables, deps)));
    const added = await applyNetwork(runner, plan.network);
    if (added.length > 0) deps.log(`added: ${added.map((s) => s.kind).join(', ')}`);
  });
  return { families: report };
}

async function cleanup(
  runs: readonly FamilyRun[],
  plan: CapturePlan,
  iptables: Iptables,
  runner: CommandRunner,
  deps: ApplyDeps,
): Promise<ApplyReport> {
  const work = runs
    .map((run) => ({ run, payload: cleanupPayload(run.live, run.expected) }))
    .filter((w) => w.payload !== '');
  await transact(work, iptables, deps, async (applied) => {
    for (const { run } of applied) {
      const live = parseSave(await iptables.save(run.backend), deps.canonical);
      if (hasOwnedState(live))
        throw new VerifyError(run.ruleset.family, ['rules of ours are still live after cleanup']);
    }
  });
  const problems = await removeNetwork(runner, plan.network);
  for (const problem of problems) deps.log(`warning: ${problem}`);
  for (const run of runs)
    deps.log(
      `${run.ruleset.family} (${run.backend.variant}): ${work.some((w) => w.run === run) ? 'removed our chains and rules' : 'nothing of ours was live'}`,
    );
  return {
    families: runs.map((run) => ({
      family: run.ruleset.family,
      variant: run.backend.variant,
      action: 'cleaned' as const,
    })),
  };
}
