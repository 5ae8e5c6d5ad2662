/**
 * `--native-nftables` as every entry point (the CLI, the CNI plugin) runs it for real: the
 * applier (apply.ts) under the namespace's lock, and a read-only comparison of the live tables
 * with the plan under the same lock, so neither sees a ruleset another run is half-way through.
 */
import type { CaptureConfig, RunOptions } from '../../config/capture-config.js';
import type { NftPlan } from '../../plan/nft/plan-nft.js';
import { compareNft } from '../../state/nft/compare.js';
import { parseRuleset } from '../../state/nft/ruleset.js';
import { readTextFile, runLegacyTables } from '../host-facts.js';
import { type LockMeans, withNamespaceLock } from '../lock.js';
import { netnsRunner } from '../netns.js';
import { noNftTables } from '../nft-tables.js';
import { processRunner } from '../process-runner.js';
import { applyNftables, type NftAction, type NftApplyOptions } from './apply.js';
import { Nft } from './nft.js';
import { resolveOwners } from './owners.js';

/** The run options a real nftables run uses. */
export type ExclusiveNftOptions = NftApplyOptions & Pick<RunOptions, 'lockTimeoutMs'>;

/**
 * Applies (or, with `cleanupOnly`, removes) the plan for real, alone in its namespace; throws
 * as `applyNftables` does, and LockTimeoutError when the lock stays taken. `means` takes the
 * lock (and, with the native helper, enters the namespace for the run).
 */
export async function applyNftablesExclusively(
  plan: NftPlan,
  config: CaptureConfig,
  options: ExclusiveNftOptions,
  log: (line: string) => void,
  means: LockMeans = { runner: processRunner },
): Promise<NftAction> {
  const netns = options.networkNamespace;
  return withNamespaceLock(means, netns, options.lockTimeoutMs, (runner) => {
    // Asked inside the lock: with the native helper this process is in the namespace by now.
    const legacyTables = runLegacyTables(netns);
    const noTables = means.native && noNftTables(means.native);
    return applyNftables(plan, config, options, {
      runner,
      log,
      readTextFile,
      legacyTables,
      ...(noTables ? { noTables } : {}),
    });
  });
}

/**
 * Every way our live tables differ from the plan; empty when they are in place. Changes
 * nothing. User and group names resolve as the applier resolves them (unknown: ConfigError).
 */
export async function nftDifferences(
  plan: NftPlan,
  config: CaptureConfig,
  options: Pick<RunOptions, 'networkNamespace' | 'lockTimeoutMs'>,
  means: LockMeans = { runner: processRunner },
): Promise<string[]> {
  const ids = await resolveOwners(config, readTextFile);
  return withNamespaceLock(means, options.networkNamespace, options.lockTimeoutMs, async (runner) => {
    const live = parseRuleset(await new Nft(netnsRunner(runner, options.networkNamespace)).list());
    const verdict = compareNft(plan.tables, live, ids);
    switch (verdict.status) {
      case 'match':
        return [];
      case 'clean':
        return ['nftables: none of the planned tables is live'];
      case 'drift':
        return verdict.differences.map((d) => `nftables: ${d}`);
    }
  });
}
