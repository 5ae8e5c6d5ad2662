/** Collects rule operations per IP family, in creation order. */
import type { IpFamily } from '../model/family.js';
import type { ChainName, Match, Rule, RuleOp, RuleOrigin, Ruleset, TableName, Target } from '../model/netfilter.js';

/** `origin` says which setting produced the rule (for `explain`); it changes no rendered text. */
export function append(
  table: TableName,
  chain: ChainName,
  matches: readonly Match[],
  target: Target,
  origin?: RuleOrigin,
): RuleOp {
  return { op: 'append', rule: { table, chain, matches, target, ...(origin ? { origin } : {}) } satisfies Rule };
}

export function insert(
  table: TableName,
  chain: ChainName,
  position: number,
  matches: readonly Match[],
  target: Target,
  origin?: RuleOrigin,
): RuleOp {
  return { op: 'insert', position, rule: { table, chain, matches, target, ...(origin ? { origin } : {}) } };
}

/** A rule's provenance: the setting as a user types it, and what the rule does. */
export function because(setting: string, why: string): RuleOrigin {
  return { setting, why };
}

/**
 * Upstream adds each rule to "both" families, or to one family only. A rule may differ per
 * family (the loopback and passthrough addresses), so it can be given as a function of it.
 */
export class RulesetBuilder {
  private readonly ops = new Map<IpFamily, RuleOp[]>();

  constructor(families: readonly IpFamily[]) {
    for (const family of families) this.ops.set(family, []);
  }

  /** Adds to every enabled family. */
  both(op: RuleOp | ((family: IpFamily) => RuleOp)): void {
    for (const [family, ops] of this.ops) ops.push(typeof op === 'function' ? op(family) : op);
  }

  /** Adds to one family, if it is enabled. */
  only(family: IpFamily, op: RuleOp): void {
    this.ops.get(family)?.push(op);
  }

  build(): Ruleset[] {
    // Copies: a built ruleset never changes (renderRestore keeps its text).
    return [...this.ops].map(([family, ops]) => ({ family, ops: [...ops] }));
  }
}
