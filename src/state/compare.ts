/**
 * Plan vs live state, per family. Owned chains (`ISTIO_*`) must hold exactly the planned
 * rules in the planned kernel order. In built-in chains, foreign rules are left alone: each
 * planned rule must be present, and rules of ours (ours.ts: any shape this tool or upstream
 * writes there, in any configuration) must appear exactly as often as planned — a duplicate
 * is the mark of an earlier run applied twice, an unplanned one of an earlier configuration.
 */
import { isBuiltinChain, isOwnedChain } from '../model/chains.js';
import { CAPTURE_TABLES, type Ruleset, type TableName } from '../model/netfilter.js';
import { ruleSpec } from '../render/args.js';
import type { CanonicalOptions } from './canonical.js';
import { isOurBuiltinRule } from './ours.js';
import { type LiveRule, liveRule, type NetfilterState } from './save-parser.js';

/** A planned rule, in the form a live one is read in. */
export type PlannedRule = LiveRule;

/** table → chain → rules in the order the kernel will hold them after the ops run. */
export type ExpectedState = Map<TableName, Map<string, PlannedRule[]>>;

export function expectedState(ruleset: Ruleset, options: CanonicalOptions = {}): ExpectedState {
  const state: ExpectedState = new Map();
  const chain = (table: TableName, name: string) => {
    const chains = state.get(table) ?? new Map<string, PlannedRule[]>();
    state.set(table, chains);
    const rules = chains.get(name) ?? [];
    chains.set(name, rules);
    return rules;
  };
  for (const op of ruleset.ops) {
    const rule = liveRule(op.rule.chain, ruleSpec(op), options);
    const rules = chain(op.rule.table, op.rule.chain);
    if (op.op === 'append') rules.push(rule);
    else rules.splice(op.position - 1, 0, rule);
    if (op.rule.target.kind === 'jump') chain(op.rule.table, op.rule.target.chain);
  }
  return state;
}

export type Verdict =
  /** Nothing of ours is live. */
  | { readonly status: 'clean' }
  | { readonly status: 'match' }
  | { readonly status: 'drift'; readonly differences: readonly string[] };

/** True for a rule that jumps into a chain of ours. */
export const jumpsToOwned = (rule: LiveRule): boolean => rule.jumpsTo !== undefined && isOwnedChain(rule.jumpsTo);

function count<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/** True when the live state holds anything this tool owns: an owned chain, or a rule of ours in a built-in chain. */
export function hasOwnedState(live: NetfilterState): boolean {
  for (const table of CAPTURE_TABLES) {
    for (const [name, rules] of live.get(table) ?? []) {
      if (isOwnedChain(name) || rules.some((rule) => isOurBuiltinRule(table, name, rule))) return true;
    }
  }
  return false;
}

export function compareState(expected: ExpectedState, live: NetfilterState): Verdict {
  if (!hasOwnedState(live)) {
    const planned = [...expected.values()].some((chains) => chains.size > 0);
    return planned ? { status: 'clean' } : { status: 'match' };
  }
  const differences: string[] = [];
  for (const table of CAPTURE_TABLES) {
    const want = expected.get(table) ?? new Map<string, PlannedRule[]>();
    const have = live.get(table) ?? new Map<string, LiveRule[]>();
    for (const [name, rules] of want) {
      const liveRules = have.get(name);
      if (isBuiltinChain(name)) {
        const liveCounts = count(liveRules ?? [], (r) => r.key);
        const byKey = new Map<string, PlannedRule>();
        for (const rule of rules) if (!byKey.has(rule.key)) byKey.set(rule.key, rule);
        for (const [key, n] of count(rules, (r) => r.key)) {
          const rule = byKey.get(key);
          const found = liveCounts.get(key) ?? 0;
          if (found < n) differences.push(`${table} ${name}: missing ${rule?.text}`);
          else if (rule && found > n && isOurBuiltinRule(table, name, rule))
            differences.push(`${table} ${name}: ${found} copies of ${rule.text}`);
        }
        continue;
      }
      if (!liveRules) {
        differences.push(`${table} ${name}: chain missing`);
        continue;
      }
      const wantKeys = rules.map((r) => r.key);
      const haveKeys = liveRules.map((r) => r.key);
      const at = wantKeys.findIndex((key, i) => key !== haveKeys[i]);
      if (at >= 0 || wantKeys.length !== haveKeys.length) {
        const index = at >= 0 ? at : wantKeys.length;
        const wanted = rules[index]?.text ?? '(end of chain)';
        const found = liveRules[index] ? `-A ${name} ${liveRules[index].spec.join(' ')}` : '(end of chain)';
        differences.push(
          `${table} ${name}: rule ${index + 1} should be \`${wanted}\`, is \`${found}\` (${liveRules.length} rules live, ${rules.length} planned)`,
        );
      }
    }
    for (const [name, rules] of have) {
      if (isOwnedChain(name) && !want.has(name)) differences.push(`${table} ${name}: chain not in the plan`);
      if (!isBuiltinChain(name)) continue;
      const planned = new Set((want.get(name) ?? []).map((r) => r.key));
      for (const rule of rules.filter((r) => !planned.has(r.key) && isOurBuiltinRule(table, name, r))) {
        const what = jumpsToOwned(rule) ? 'jump' : 'rule of ours';
        differences.push(`${table} ${name}: unplanned ${what} \`-A ${name} ${rule.spec.join(' ')}\``);
      }
    }
  }
  return differences.length > 0 ? { status: 'drift', differences } : { status: 'match' };
}
