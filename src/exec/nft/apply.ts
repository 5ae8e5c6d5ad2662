/**
 * Applying a `--native-nftables` plan for real, all or nothing:
 * 1. resolve user and group names (unknown ones are bad input, before any process);
 * 2. list the ruleset: our tables as they are, and our iptables-mode chains, which stop the run
 *    (not run where the kernel says there is no table at all: a new pod's namespace);
 * 3. compare our tables with the plan: none → upstream's transaction; the same → nothing (unless
 *    --force-apply); different → one transaction that deletes our tables and writes the plan
 *    (--reconcile, the default), or a refusal that changes nothing. Unlike upstream, tables and
 *    chains the plan no longer has go too (spec §17.2);
 * 4. `nft -f -`: atomic, so a refused transaction changed nothing (a separate `nft --check`
 *    first would add no safety, and costs ~12 ms: the kernel aborting a checked transaction
 *    waits for an RCU grace period);
 * 5. list again and compare with the plan; a difference puts our tables back as they were;
 * 6. add the ip rules/routes and ::6 that are missing (as the iptables mode does).
 */
import type { CaptureConfig, RunOptions } from '../../config/capture-config.js';
import { isIptablesError, ModeConflictError, NftDriftError, NftVerifyError } from '../../errors.js';
import type { IpFamily } from '../../model/family.js';
import { NFT_TABLES } from '../../model/nftables.js';
import type { NftPlan } from '../../plan/nft/plan-nft.js';
import { deleteTables, renderTransaction } from '../../render/nft/transaction.js';
import { compareNft, iptablesModeChains, ownTableNames, ownTables } from '../../state/nft/compare.js';
import type { OwnerIds } from '../../state/nft/listing.js';
import { parseRuleset, type LiveTable } from '../../state/nft/ruleset.js';
import type { CommandRunner } from '../command.js';
import { applyNetwork, removeNetwork } from '../network.js';
import { netnsRunner } from '../netns.js';
import { Nft } from './nft.js';
import { legacyIptablesChains } from './other-mode.js';
import { resolveOwners } from './owners.js';

export interface NftApplyDeps {
  readonly runner: CommandRunner;
  readonly log: (line: string) => void;
  /** Reads /etc/passwd and /etc/group (the files nft resolves names from). */
  readonly readTextFile: (path: string) => Promise<string>;
  /**
   * Whether legacy iptables may hold tables in the namespace (false: certainly not). Given, the
   * run also looks for our iptables-mode chains there, which nft cannot see.
   */
  readonly legacyTables?: (family: IpFamily) => boolean | undefined;
  /**
   * Whether the kernel says the namespace has no nftables table at all (the native helper's
   * netlink dump): then listing the ruleset would print nothing, and is not run.
   */
  readonly noTables?: () => boolean;
}

/** What a run did to our tables. */
export type NftAction = 'applied' | 'reconciled' | 'unchanged' | 'cleaned';

/** The run options applying reads (a `RunOptions` will do). */
export type NftApplyOptions = Pick<RunOptions, 'networkNamespace' | 'cleanupOnly' | 'reconcile' | 'forceApply'>;

/**
 * Applies the plan into the namespace (ours, or `options.networkNamespace`), all or nothing.
 * @throws ConfigError for unknown user or group names; ModeConflictError when our iptables-mode
 *   chains are live; NftDriftError when replacing drift is not allowed; NftVerifyError (after
 *   putting the tables back) when the read-back is not the plan; nft's own failures.
 */
export async function applyNftables(
  plan: NftPlan,
  config: CaptureConfig,
  options: NftApplyOptions,
  deps: NftApplyDeps,
): Promise<NftAction> {
  const runner = netnsRunner(deps.runner, options.networkNamespace);
  const nft = new Nft(runner);
  const ids: OwnerIds = options.cleanupOnly
    ? { users: new Map(), groups: new Map() }
    : await resolveOwners(config, deps.readTextFile);
  const before = deps.noTables?.() ? [] : parseRuleset(await nft.list());
  if (options.cleanupOnly) return cleanup(plan, before, nft, runner, deps);
  const other = [
    ...iptablesModeChains(before),
    ...(deps.legacyTables ? await legacyIptablesChains(runner, deps.legacyTables) : []),
  ];
  if (other.length > 0) throw new ModeConflictError(other);
  const verdict = compareNft(plan.tables, before, ids);
  const label = 'nftables';
  let transaction: string;
  let action: NftAction;
  if (verdict.status === 'clean') {
    transaction = renderTransaction(plan.transaction);
    action = 'applied';
    deps.log(`${label}: no tables of ours yet; applying ${plan.transaction.operations.length} operations`);
  } else if (verdict.status === 'match' && !options.forceApply) {
    deps.log(`${label}: the live tables already match the plan; nothing to do`);
    await network(plan, nft, runner, deps, undefined);
    return 'unchanged';
  } else {
    const why =
      verdict.status === 'drift'
        ? `the live tables differ from the plan:\n  ${verdict.differences.join('\n  ')}`
        : 'the live tables match, but forcing is asked for';
    if (verdict.status === 'drift' && !options.reconcile) throw new NftDriftError(verdict.differences);
    deps.log(`${label}: ${why}\n  replacing them in one transaction`);
    transaction = deleteTables(ownTableNames(before)) + renderTransaction(plan.transaction);
    action = 'reconciled';
  }
  await nft.apply(transaction);
  try {
    const after = compareNft(plan.tables, parseRuleset(await nft.list()), ids);
    if (after.status !== 'match')
      throw new NftVerifyError(after.status === 'drift' ? after.differences : ['none of the planned tables is live']);
  } catch (error) {
    throw await rolledBack(error, before, nft, deps);
  }
  await network(plan, nft, runner, deps, before);
  return action;
}

/** Puts our tables back as `before` listed them, and adds the outcome to the error. */
async function rolledBack(
  error: unknown,
  before: readonly LiveTable[],
  nft: Nft,
  deps: NftApplyDeps,
): Promise<unknown> {
  const restore =
    deleteTables(NFT_TABLES) +
    ownTables(before)
      .map((t) => t.text)
      .join('');
  try {
    await nft.apply(restore);
    deps.log('nftables: rolled back to the tables before this run');
  } catch (undo) {
    if (isIptablesError(error))
      error.rollbackProblems = [...error.rollbackProblems, `rollback failed: ${(undo as Error).message}`];
  }
  return error;
}

async function network(
  plan: NftPlan,
  nft: Nft,
  runner: CommandRunner,
  deps: NftApplyDeps,
  before: readonly LiveTable[] | undefined,
): Promise<void> {
  try {
    const added = await applyNetwork(runner, plan.network);
    if (added.length > 0) deps.log(`added: ${added.map((s) => s.kind).join(', ')}`);
  } catch (error) {
    // The rules without their routes would capture to nowhere: put the tables back too.
    throw before ? await rolledBack(error, before, nft, deps) : error;
  }
}

async function cleanup(
  plan: NftPlan,
  before: readonly LiveTable[],
  nft: Nft,
  runner: CommandRunner,
  deps: NftApplyDeps,
): Promise<NftAction> {
  if (ownTables(before).length === 0) deps.log('nftables: nothing of ours was live');
  else {
    const transaction = renderTransaction(plan.cleanup);
    await nft.apply(transaction);
    const left = ownTables(parseRuleset(await nft.list()));
    if (left.length > 0) throw new NftVerifyError(left.map((t) => `${t.name} is still live after cleanup`));
    deps.log(
      `nftables: removed our tables (${ownTables(before)
        .map((t) => t.name)
        .join(', ')})`,
    );
  }
  for (const problem of await removeNetwork(runner, plan.network)) deps.log(`warning: ${problem}`);
  return 'cleaned';
}
