/**
 * CHECK: are the pod's planned rules live in its namespace? Reads each family's state with
 * the backend detection a run uses and compares it with the plan; changes nothing.
 */
import type { RunOptions } from '../config/capture-config.js';
import { detectBackend } from '../exec/backend.js';
import type { CommandRunner } from '../exec/command.js';
import { netnsRunner } from '../exec/netns.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import { compareState, expectedState } from '../state/compare.js';
import { parseSave } from '../state/save-parser.js';

/** Every way the live rules differ from the plan, per family; empty when they are in place. */
export async function checkCapture(plan: CapturePlan, options: RunOptions, runner: CommandRunner): Promise<string[]> {
  const inNamespace = netnsRunner(runner, options.networkNamespace);
  const problems: string[] = [];
  for (const ruleset of plan.rulesets) {
    const { backend, state } = await detectBackend(inNamespace, ruleset.family, {
      forced: options.iptables,
      ...(options.networkNamespace ? { netnsPath: options.networkNamespace } : {}),
    });
    const verdict = compareState(expectedState(ruleset), parseSave(state));
    const label = `${ruleset.family} (${backend.variant})`;
    if (verdict.status === 'clean') problems.push(`${label}: none of the planned rules is live`);
    else if (verdict.status === 'drift') problems.push(...verdict.differences.map((d) => `${label}: ${d}`));
  }
  return problems;
}
