/**
 * `native_nftables: true`: the CNI path's configuration as Istio's native nftables tables
 * (`inet istio-proxy-nat`, `-mangle`, `-raw`), the same planner and applier as
 * `istio-iptables --native-nftables`. Loaded only for such a network config.
 */
import type { ParsedConfig } from '../config/to-capture-config.js';
import { planNftCapture } from '../plan/nft/plan-nft.js';
import { renderTransaction } from '../render/nft/transaction.js';
import type { CaptureDeps, CaptureRun } from './backends.js';

export function nftablesRun(parsed: ParsedConfig, deps: CaptureDeps): CaptureRun {
  const plan = planNftCapture(parsed.config);
  return {
    // Upstream never writes a transcript in this mode (nftables spec §17.1); as the CLI's
    // `--native-nftables --dry-run`, the transcript here is the transaction, and nothing is applied.
    transcript: () => renderTransaction(parsed.options.cleanupOnly ? plan.cleanup : plan.transaction),
    check: () => deps.checkNftables(plan, parsed),
    apply: (log) => deps.applyNftables(plan, parsed, log),
  };
}
