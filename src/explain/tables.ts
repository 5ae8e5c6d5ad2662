/** The planner's rules as the kernel would hold them: inserts replayed, text rendered. */
import { BUILTINS_BY_TABLE, isBuiltinChain } from '../model/chains.js';
import type { KernelChain, KernelMatch, KernelRule, KernelTables, KernelTarget } from '../model/kernel-rule.js';
import type { Match, Rule, RuleOp, Ruleset, TableName, Target } from '../model/netfilter.js';
import { ruleSpec } from '../render/args.js';

/** A planned rule is a kernel rule; the types say so here, once. */
export function fromPlanned(op: RuleOp): KernelRule {
  const rule: Rule = op.rule;
  const matches: readonly KernelMatch[] = rule.matches satisfies readonly Match[];
  const target: KernelTarget = rule.target satisfies Target;
  const text = ['-A', rule.chain, ...ruleSpec(op)].join(' ');
  return {
    table: rule.table,
    chain: rule.chain,
    matches,
    target,
    text,
    ...(rule.origin ? { origin: rule.origin } : {}),
  };
}

/** Collects kernel rules by table and chain, each chain in the order given. */
export class TablesBuilder {
  private readonly tables = new Map<TableName, Map<string, { policy?: 'ACCEPT' | 'DROP'; rules: KernelRule[] }>>();

  private chainOf(table: TableName, chain: string) {
    const chains = this.tables.get(table) ?? new Map();
    this.tables.set(table, chains);
    const entry = chains.get(chain) ?? { rules: [] };
    chains.set(chain, entry);
    return entry;
  }

  /** Declares a chain (with its policy, for a built-in one). */
  declare(table: TableName, chain: string, policy?: 'ACCEPT' | 'DROP'): void {
    const entry = this.chainOf(table, chain);
    if (policy) entry.policy = policy;
    else if (isBuiltinChain(chain)) entry.policy ??= 'ACCEPT';
  }

  /** Adds a rule at a 1-based position, or at the end. */
  add(rule: KernelRule, position?: number): void {
    this.declare(rule.table, rule.chain);
    const entry = this.chainOf(rule.table, rule.chain);
    if (position === undefined) entry.rules.push(rule);
    else entry.rules.splice(position - 1, 0, rule);
  }

  build(): KernelTables {
    return new Map([...this.tables].map(([table, chains]) => [table, new Map<string, KernelChain>(chains)] as const));
  }
}

/**
 * The tables a ruleset would leave in the kernel: a table written to has all its built-in
 * chains, with policy ACCEPT, as iptables-save would show them.
 */
export function tablesFromRuleset(ruleset: Ruleset): KernelTables {
  const builder = new TablesBuilder();
  const tables = new Set(ruleset.ops.map((op) => op.rule.table));
  for (const table of tables) for (const chain of BUILTINS_BY_TABLE[table]) builder.declare(table, chain);
  for (const op of ruleset.ops) {
    const rule = fromPlanned(op);
    if (op.op === 'append') builder.add(rule);
    else builder.add(rule, op.position);
    if (op.rule.target.kind === 'jump') builder.declare(op.rule.table, op.rule.target.chain);
  }
  return builder.build();
}
