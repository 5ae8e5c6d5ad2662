/**
 * Sizes worth a warning before anything runs: a restore payload some sandboxes refuse, and
 * chains so long that every new connection pays for walking them. Values only; the CLI prints.
 */
import type { CapturePlan } from '../plan/plan-capture.js';
import { renderRestore } from './restore.js';

export interface Limits {
  /** Restore input larger than this is refused by some sandboxes (gVisor's netstack among them). */
  readonly payloadBytes: number;
  /** A chain longer than this makes each new connection's first packet slow to classify. */
  readonly chainRules: number;
}

export const LIMITS: Limits = { payloadBytes: 8 * 1024, chainRules: 1000 };

/** `12345` → `12,345`. (toLocaleString would first load ICU's number formats, slower than a dry run.) */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

const count = thousands;

/** Rule operations in the plan, all families. */
export function ruleCount(plan: CapturePlan): number {
  return plan.rulesets.reduce((sum, ruleset) => sum + ruleset.ops.length, 0);
}

/** One message per payload and per chain past a limit, in plan order. */
export function limitWarnings(plan: CapturePlan, limits: Limits = LIMITS): string[] {
  const warnings: string[] = [];
  for (const ruleset of plan.rulesets) {
    const bytes = Buffer.byteLength(renderRestore(ruleset));
    if (bytes > limits.payloadBytes) {
      warnings.push(
        `${ruleset.family}: the restore payload is ${count(bytes)} bytes, over ${count(limits.payloadBytes)}: some sandboxes refuse restore input that large`,
      );
    }
    const chains = new Map<string, number>();
    for (const { rule } of ruleset.ops)
      chains.set(`${rule.table} ${rule.chain}`, (chains.get(`${rule.table} ${rule.chain}`) ?? 0) + 1);
    for (const [chain, rules] of chains) {
      if (rules > limits.chainRules) {
        warnings.push(
          `${ruleset.family}: ${chain} has ${count(rules)} rules, over ${count(limits.chainRules)}: each new connection walks them in order`,
        );
      }
    }
  }
  return warnings;
}
