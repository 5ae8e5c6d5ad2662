/**
 * iptables commands derived from a ruleset: the checks (`-C`) that tell whether a planned
 * rule is live, and the cleanup that removes exactly what the ruleset creates. Both come from
 * the same ops as the restore payload, never written by hand.
 */
import { isBuiltinChain, isOwnedChain } from '../model/chains.js';
import type { RuleOp, Ruleset } from '../model/netfilter.js';
import { ruleSpec } from './args.js';

/** `-t TABLE -C CHAIN spec…`, one per op, in creation order (the insert position is dropped). */
export function checkCommands(ruleset: Ruleset): string[][] {
  return ruleset.ops.map((op) => ['-t', op.rule.table, '-C', op.rule.chain, ...ruleSpec(op)]);
}

/** Deletes a rule by its spec. */
function deleteCommand(op: RuleOp): string[] {
  return ['-t', op.rule.table, '-D', op.rule.chain, ...ruleSpec(op)];
}

/**
 * Upstream's undo list: in reverse creation order, delete every rule in a built-in chain and
 * every jump between owned chains (rules inside owned chains go with the flush), then flush
 * and delete each owned chain at its first occurrence in the reversed list.
 */
export function cleanupCommands(ruleset: Ruleset): string[][] {
  const reversed = [...ruleset.ops].reverse();
  const deletes = reversed
    .filter(({ rule }) => !isOwnedChain(rule.chain) || (rule.target.kind === 'jump' && isOwnedChain(rule.target.chain)))
    .map(deleteCommand);
  const seen = new Set<string>();
  const chains = reversed.flatMap(({ rule }) => {
    const key = `${rule.table}/${rule.chain}`;
    if (isBuiltinChain(rule.chain) || seen.has(key)) return [];
    seen.add(key);
    return [
      ['-t', rule.table, '-F', rule.chain],
      ['-t', rule.table, '-X', rule.chain],
    ];
  });
  return [...deletes, ...chains];
}
