/**
 * Provenance for rules read from a dump or a live namespace: a rule that is, in canonical
 * form (state/canonical.ts), one this tool would plan for the settings given, gets the setting
 * that produced it. Foreign rules, and ours planned with other settings, get none.
 */
import type { KernelChain, KernelTables } from '../model/kernel-rule.js';
import type { RuleOrigin, TableName } from '../model/netfilter.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import { ruleSpec } from '../render/args.js';
import { canonicalRule } from '../state/canonical.js';
import type { RuleSource } from './explain.js';

/** The source's rules, each one the plan also has carrying the plan's origin. */
export function withPlannedOrigins(source: RuleSource, plan: CapturePlan): RuleSource {
  const tables = new Map(source.tables);
  for (const ruleset of plan.rulesets) {
    const saved = source.tables.get(ruleset.family);
    if (!saved) continue;
    const origins = new Map<string, RuleOrigin>();
    for (const op of ruleset.ops)
      if (op.rule.origin)
        origins.set(`${op.rule.table} ${op.rule.chain} ${canonicalRule(ruleSpec(op))}`, op.rule.origin);
    const annotated = new Map<TableName, ReadonlyMap<string, KernelChain>>();
    for (const [table, chains] of saved) {
      const out = new Map<string, KernelChain>();
      for (const [name, chain] of chains) {
        const rules = chain.rules.map((rule) => {
          const origin =
            rule.origin ?? (rule.key === undefined ? undefined : origins.get(`${table} ${name} ${rule.key}`));
          return origin ? { ...rule, origin } : rule;
        });
        out.set(name, { ...chain, rules });
      }
      annotated.set(table, out);
    }
    tables.set(ruleset.family, annotated satisfies KernelTables);
  }
  return { ...source, tables };
}
