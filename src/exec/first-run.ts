/**
 * A first run restores before it reads, which saves the state read before the restore (one
 * process of three). It is safe because the payload declares each of our chains with `-N`,
 * which fails on a chain that exists, and a single-table payload is one transaction: on a
 * namespace with none of our chains in that table it applies whole, on any other it changes
 * nothing. The read-back then shows whether the whole state is the plan: anything of ours live
 * elsewhere (another table, another family) makes it differ. Taken only with the nft backend
 * known without reading nft's state, single-table payloads, and not for a cleanup.
 *
 * Returns undefined when the run must go the careful way (read, compare, apply): a restore
 * failed (a re-run: our chains exist), or the read-back is not the plan. Whatever was restored
 * is first put back exactly as it was (tablesBeforeRestore), so the careful way starts from the
 * state the run found.
 */
import { isCommandFailedError, isIptablesError, VerifyError } from '../errors.js';
import { isBuiltinChain } from '../model/chains.js';
import type { Ruleset, TableName } from '../model/netfilter.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import { renderRestore } from '../render/restore.js';
import { renderRollback } from '../render/transactions.js';
import type { CanonicalOptions } from '../state/canonical.js';
import { compareState, type ExpectedState, expectedState } from '../state/compare.js';
import { type ParsedTable, stateOf } from '../state/save-parser.js';
import { cleanupPayload, tablesBeforeRestore } from '../state/transactions.js';
import { type Backend, type DetectOptions, nftWithoutItsState } from './backend.js';
import type { CommandRunner } from './command.js';
import { type Iptables, parseLive } from './iptables.js';
import { applyNetwork } from './network.js';
import { warnShadowing, withRollbackProblems } from './transaction.js';

/** What the first-run path needs from the run. */
export interface FirstRunContext {
  readonly runner: CommandRunner;
  readonly iptables: Iptables;
  readonly log: (line: string) => void;
  readonly canonical?: CanonicalOptions;
  readonly detectOptions: (ruleset: Ruleset) => DetectOptions;
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
 * The tables read back after a run's restore, or 'unreadable' when iptables cannot show them
 * whole (a table holding nft-native rules). Our restore into such a table succeeded, so its
 * chains were new: removing the planned chains and rules by name undoes it without a rollback
 * to a misread table.
 */
async function readBack(
  run: FirstRun,
  iptables: Iptables,
  canonical: CanonicalOptions | undefined,
): Promise<readonly ParsedTable[] | 'unreadable'> {
  try {
    return parseLive(run.after ?? (await iptables.save(run.backend)), run.backend, canonical);
  } catch (error) {
    if (isIptablesError(error) && error.code === 'STATE_UNREADABLE') return 'unreadable';
    throw error;
  }
}

/** Applies the plan restoring first; the families applied, or undefined to go the careful way. */
export async function applyFirstRun(
  plan: CapturePlan,
  context: FirstRunContext,
): Promise<readonly Ruleset[] | undefined> {
  const { iptables, log, canonical } = context;
  const tables = plan.rulesets.map(singleTable);
  if (tables.length === 0 || tables.some((table) => table === undefined)) return undefined;
  const runs: FirstRun[] = [];
  for (const [i, ruleset] of plan.rulesets.entries()) {
    const backend = await nftWithoutItsState(context.runner, ruleset.family, context.detectOptions(ruleset));
    if (!backend) return undefined;
    runs.push({ ruleset, backend, table: tables[i] as TableName, expected: expectedState(ruleset, canonical) });
  }
  const restored: FirstRun[] = [];
  /** Puts back what was restored, newest first; each run is dropped from `restored` once put back. */
  const putBack = async () => {
    for (let run = restored.pop(); run; run = restored.pop()) {
      const after = await readBack(run, iptables, canonical);
      if (after === 'unreadable') {
        await iptables.restore(run.backend, cleanupPayload(run.expected, run.expected).text, true);
        continue;
      }
      const before = tablesBeforeRestore(after, run.table, run.expected);
      if (before === undefined)
        throw new VerifyError(run.ruleset.family, [
          `${run.table}: our rules are live, but the chains they went into changed meanwhile; left as they are`,
        ]);
      await iptables.restore(run.backend, renderRollback(before, [run.table]), false);
    }
  };
  const carefully = async (why: string) => {
    if (restored.length > 0) {
      log(`${why}; putting back what was applied, then reading the state first`);
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
        if (!isCommandFailedError(error)) throw error;
        return await carefully(`${run.ruleset.family} (nft): restoring before reading failed`);
      }
      restored.push(run);
    }
    for (const run of runs) {
      run.after = await iptables.save(run.backend);
      const live = stateOf(parseLive(run.after, run.backend, canonical));
      if (compareState(run.expected, live).status !== 'match')
        return await carefully(`${run.ruleset.family} (nft): the rules read back are not just the plan`);
      warnShadowing(run.ruleset.family, live, log);
    }
    const added = await applyNetwork(context.runner, plan.network);
    for (const run of runs)
      log(`${run.ruleset.family} (nft): no rules of ours yet; applied ${run.ruleset.ops.length} rules`);
    if (added.length > 0) log(`added: ${added.map((s) => s.kind).join(', ')}`);
  } catch (error) {
    const problem = await putBack().then(
      () => undefined,
      (undo: unknown) => `rollback failed: ${(undo as Error).message}`,
    );
    throw withRollbackProblems(error, problem ? [problem] : []);
  }
  return runs.map((run) => run.ruleset);
}
