/**
 * `--native-nftables --dry-run` output: one `# nft -f -` line, then the transaction exactly as
 * a real run pipes it into `nft -f -` (upstream's text), then every other command a real run
 * would execute as a `# family: …` comment, as the iptables dry run writes them. So
 * `--dry-run | grep -v '^#'` is upstream's transaction. Unlike upstream (spec §17.1), a dry run
 * changes nothing.
 */
import type { NftPlan } from '../../plan/nft/plan-nft.js';
import { ipArgs } from '../ip.js';
import { renderTransaction } from './transaction.js';

export const NFT_DRY_RUN_HEADER = '# nft -f -\n';

export function renderNftDryRun(plan: NftPlan, options: { cleanupOnly: boolean }): string {
  if (options.cleanupOnly) return NFT_DRY_RUN_HEADER + renderTransaction(plan.cleanup);
  const network = plan.network.map((step) => `# ${step.family}: ${['ip', ...ipArgs(step)].join(' ')}\n`);
  return [NFT_DRY_RUN_HEADER, renderTransaction(plan.transaction), ...network].join('');
}
