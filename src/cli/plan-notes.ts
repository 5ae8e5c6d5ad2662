/** What the CLI tells about a plan before running it: compaction's effect, and size warnings. */
import type { CaptureConfig, RunOptions } from '../config/capture-config.js';
import { planCapture, type CapturePlan } from '../plan/plan-capture.js';
import { limitWarnings, ruleCount, thousands } from '../render/limits.js';

/** A message for the log, with its level. */
export interface Note {
  readonly level: 'info' | 'warn';
  readonly message: string;
}

/** What to log about the plan; nothing when no rules are going to be written. */
export function planNotes(
  plan: CapturePlan,
  config: CaptureConfig,
  options: Pick<RunOptions, 'cleanupOnly' | 'skipRuleApply'>,
): Note[] {
  if (options.cleanupOnly || options.skipRuleApply) return [];
  const notes: Note[] = [];
  if (config.compactRules) {
    const before = ruleCount(planCapture({ ...config, compactRules: false }));
    notes.push({
      level: 'info',
      message: `--compact-rules: ${thousands(ruleCount(plan))} rules instead of ${thousands(before)}`,
    });
  }
  const warnings = limitWarnings(plan);
  notes.push(...warnings.map((message) => ({ level: 'warn' as const, message })));
  if (warnings.length > 0 && !config.compactRules)
    notes.push({
      level: 'info',
      message: 'hint: --compact-rules merges CIDR lists and groups port lists into fewer rules, with the same effect',
    });
  return notes;
}
