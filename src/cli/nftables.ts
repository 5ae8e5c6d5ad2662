/**
 * The `--native-nftables` branch of a run, loaded only when the flag is given: plan the
 * transaction, then print it (dry run) or hand it to the applier.
 */
import { ConfigError } from '../errors.js';
import type { ParsedConfig } from '../config/to-capture-config.js';
import { planNftCapture, type NftPlan } from '../plan/nft/plan-nft.js';
import { renderNftDryRun } from '../render/nft/dry-run.js';
import { renderTransaction } from '../render/nft/transaction.js';
import { LIMITS, thousands } from '../render/limits.js';

const ruleCount = (plan: NftPlan) => plan.transaction.operations.filter((op) => op.object === 'rule').length;

/** Chains long enough that every new connection pays for walking them (LIMITS.chainRules, as in the iptables mode). */
function chainWarnings(plan: NftPlan): string[] {
  const long = plan.tables.flatMap((table) =>
    table.chains
      .filter(({ rules }) => rules.length > LIMITS.chainRules)
      .map(
        ({ chain, rules }) =>
          `warning: ${table.name} ${chain.name} has ${thousands(rules.length)} rules; every new connection walks them`,
      ),
  );
  return long.length > 0
    ? [...long, 'hint: --compact-rules puts each CIDR and port list into one rule with a set']
    : [];
}

/** Applies an nftables plan for real. */
export type NftApply = (plan: NftPlan, parsed: ParsedConfig, log: (line: string) => void) => Promise<void>;

export interface NftRunIo {
  stdout(text: string): void;
  log(line: string): void;
  /** Writes the dry-run transcript (DRY_RUN_FILE_PATH), when one is asked for. */
  readonly transcript: ((text: string) => void) | undefined;
}

export async function runNftables(parsed: ParsedConfig, io: NftRunIo, apply: NftApply | undefined): Promise<void> {
  const plan = planNftCapture(parsed.config);
  const { options, config } = parsed;
  if (config.compactRules && !options.cleanupOnly && !options.skipRuleApply) {
    const plain = ruleCount(planNftCapture({ ...config, compactRules: false }));
    io.log(`info: --compact-rules: ${thousands(ruleCount(plan))} rules instead of ${thousands(plain)}`);
  }
  if (!options.cleanupOnly && !options.skipRuleApply) for (const line of chainWarnings(plan)) io.log(line);
  if (options.dryRun) {
    // Upstream never writes the transcript in this mode (spec §17.1); here it is the transaction.
    io.transcript?.(renderTransaction(options.cleanupOnly ? plan.cleanup : plan.transaction));
    if (!options.skipRuleApply) io.stdout(renderNftDryRun(plan, options));
    if (options.runValidation) io.log('dry run: skipping --run-validation');
    return;
  }
  if (!apply) throw new ConfigError([{ source: '--dry-run', value: 'false', message: 'this build can only dry-run' }]);
  await apply(plan, parsed, io.log);
}
