/**
 * What a CNI call does with its configuration, per rule manager (upstream's `native_nftables`
 * switch, ISTIO_POD_TO_CAPTURE §4.7): plan it, then write the dry-run transcript, compare the
 * live rules with the plan (CHECK), or apply it (ADD; DEL's configuration is `--cleanup-only`).
 * The nftables one is loaded only when the network config asks for it.
 */
import type { RunOptions } from '../config/capture-config.js';
import type { ParsedConfig } from '../config/to-capture-config.js';
import type { NftPlan } from '../plan/nft/plan-nft.js';
import { planCapture, type CapturePlan } from '../plan/plan-capture.js';
import { renderUpstreamTranscript } from '../render/dry-run.js';

/** What a CNI call may do to the machine; the real ones are in real-deps.ts, tests bring their own. */
export interface CaptureDeps {
  apply(plan: CapturePlan, parsed: ParsedConfig, log: (line: string) => void): Promise<void>;
  /** Differences between the live rules and the plan; empty when they are in place. */
  check(plan: CapturePlan, options: RunOptions): Promise<string[]>;
  /** `native_nftables: true`: applies the tables, all or nothing, under the namespace's lock. */
  applyNftables(plan: NftPlan, parsed: ParsedConfig, log: (line: string) => void): Promise<void>;
  /** `native_nftables: true`: differences between our live tables and the plan. */
  checkNftables(plan: NftPlan, parsed: ParsedConfig): Promise<string[]>;
}

/** One call's capture, planned for its rule manager. */
export interface CaptureRun {
  /** The dry-run transcript (DRY_RUN_FILE_PATH). */
  transcript(): string;
  check(): Promise<string[]>;
  apply(log: (line: string) => void): Promise<void>;
}

/** The iptables rule manager (nft or legacy backend, detected per namespace unless forced). */
export function iptablesRun(parsed: ParsedConfig, deps: CaptureDeps): CaptureRun {
  const plan = planCapture(parsed.config);
  return {
    transcript: () => renderUpstreamTranscript(plan, parsed.options),
    check: () => deps.check(plan, parsed.options),
    apply: (log) => deps.apply(plan, parsed, log),
  };
}

/** The rule manager the configuration asks for. */
export async function captureRun(parsed: ParsedConfig, deps: CaptureDeps): Promise<CaptureRun> {
  if (!parsed.options.nativeNftables) return iptablesRun(parsed, deps);
  const { nftablesRun } = await import('./nftables.js');
  return nftablesRun(parsed, deps);
}
