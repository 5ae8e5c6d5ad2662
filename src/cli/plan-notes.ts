/** What the CLI tells about a plan before running it: compaction's effect, and size warnings. */
import type { CaptureConfig, RunOptions } from '../config/capture-config.js';
import { planCapture, type CapturePlan } from '../plan/plan-capture.js';
import { limitWarnings, ruleCount, thousands } from '../render/limits.js';

/** stderr lines (`info: …`, `warning: …`); none when no rules are going to be written. */
export function planNotes(
  plan: CapturePlan,
  config: CaptureConfig,
  options: Pick<RunOptions, 'cleanupOnly' | 'skipRuleApply'>,
): string[] {
  if (options.cleanupOnly || options.skipRuleApply) return [];
  const lines: string[] = [];
  if (config.compactRules) {
    const before = ruleCount(planCapture({ ...config, compactRules: false }));
    lines.push(`info: --compact-rules: ${thousands(ruleCount(plan))} rules instead of ${thousands(before)}`);
  }
  const warnings = limitWarnings(plan);
  lines.push(...warnings.map((warning) => `warning: ${warning}`));
  if (warnings.length > 0 && !config.compactRules)
    lines.push('hint: --compact-rules merges CIDR lists and groups port lists into fewer rules, with the same effect');
  return lines;
}
