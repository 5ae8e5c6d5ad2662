/**
 * What a transaction must change, worked out from the live state, for the cases upstream
 * handles with many separate commands: replacing what of ours is live, cleaning it up, and
 * working out the state from before a restore. The payload text is written by
 * render/transactions.ts; a payload of several tables can fail after committing the first
 * ones, which is why a rollback names every table of a payload it tried.
 */
import { isBuiltinChain, isOwnedChain } from '../model/chains.js';
import { CAPTURE_TABLES, type Ruleset, type TableName } from '../model/netfilter.js';
import {
  type Payload,
  renderRollback,
  renderSavedTables,
  renderTableEdits,
  type TableEdit,
} from '../render/transactions.js';
import type { CanonicalOptions } from './canonical.js';
import type { ExpectedState } from './compare.js';
import { isOurBuiltinRule } from './ours.js';
import { type LiveRule, type NetfilterState, type ParsedTable, parseSaveTables } from './save-parser.js';

/** Live rules in built-in chains that belong to us: rules of our shapes (ours.ts), or rules we plan. */
function ownedBuiltinRules(table: TableName, live: NetfilterState, expected: ExpectedState) {
  const found: { chain: string; spec: readonly string[] }[] = [];
  for (const [chain, rules] of live.get(table) ?? []) {
    if (!isBuiltinChain(chain)) continue;
    const planned = new Set((expected.get(table)?.get(chain) ?? []).map((r) => r.key));
    for (const rule of rules)
      if (planned.has(rule.key) || isOurBuiltinRule(table, chain, rule)) found.push({ chain, spec: rule.spec });
  }
  return found;
}

function tableEdit(
  table: TableName,
  live: NetfilterState,
  expected: ExpectedState,
  ruleset: Ruleset | undefined,
): TableEdit {
  const liveOwned = [...(live.get(table)?.keys() ?? [])].filter(isOwnedChain);
  const planned = ruleset ? [...(expected.get(table)?.keys() ?? [])].filter(isOwnedChain) : [];
  return {
    table,
    declare: [...new Set([...planned, ...liveOwned])],
    deletes: ownedBuiltinRules(table, live, expected),
    removeChains: liveOwned.filter((chain) => !planned.includes(chain)),
    ops: ruleset?.ops.filter((op) => op.rule.table === table) ?? [],
  };
}

/** Replaces whatever of ours is live with the plan, in one transaction (reconcile, force-apply). */
export function replacePayload(ruleset: Ruleset, live: NetfilterState, expected: ExpectedState): Payload {
  return renderTableEdits(CAPTURE_TABLES.map((table) => tableEdit(table, live, expected, ruleset)));
}

/** Removes our chains and every rule of ours in built-in chains (of this plan or an earlier one). */
export function cleanupPayload(live: NetfilterState, expected: ExpectedState): Payload {
  return renderTableEdits(CAPTURE_TABLES.map((table) => tableEdit(table, live, expected, undefined)));
}

/** The given tables of saved `before` text, put back as they were (see renderRollback). */
export function rollbackPayload(before: string, tables: readonly TableName[]): string {
  return renderRollback(parseSaveTables(before), tables);
}

/**
 * The tables from before a restore that created the planned chains of `table` and appended the
 * planned rules to its built-in chains, worked out from the tables read after it (see
 * exec/first-run.ts): the planned owned chains removed (the restore created them: its `-N`
 * fails on a chain that exists) and the planned rules taken off the ends of the built-in
 * chains (where `-A` put them), foreign rules kept in their order. Undefined when those ends
 * are not the planned rules, that is when something else changed the chains too.
 */
export function tablesBeforeRestore(
  after: readonly ParsedTable[],
  table: TableName,
  expected: ExpectedState,
): ParsedTable[] | undefined {
  const planned = expected.get(table) ?? new Map<string, readonly LiveRule[]>();
  const plannedBuiltin = [...planned].some(([name, rules]) => isBuiltinChain(name) && rules.length > 0);
  if (plannedBuiltin && !after.some((saved) => saved.name === table)) return undefined;
  const result: ParsedTable[] = [];
  for (const saved of after) {
    if (saved.name !== table) {
      result.push(saved);
      continue;
    }
    const chains = saved.chains.filter((chain) => !(isOwnedChain(chain.name) && planned.has(chain.name)));
    for (const [index, chain] of chains.entries()) {
      const ours = planned.get(chain.name);
      if (!isBuiltinChain(chain.name) || !ours) continue;
      if (chain.rules.length < ours.length) return undefined;
      const kept = chain.rules.length - ours.length;
      if (chain.rules.slice(kept).some((rule, k) => rule.key !== ours[k]?.key)) return undefined;
      chains[index] = { ...chain, rules: chain.rules.slice(0, kept) };
    }
    for (const name of planned.keys())
      if (isBuiltinChain(name) && (planned.get(name)?.length ?? 0) > 0 && !chains.some((c) => c.name === name))
        return undefined;
    result.push({ ...saved, chains });
  }
  return result;
}

/** `tablesBeforeRestore` on save text, as save text. */
export function stateBeforeRestore(
  after: string,
  table: TableName,
  expected: ExpectedState,
  options: CanonicalOptions = {},
): string | undefined {
  const before = tablesBeforeRestore(parseSaveTables(after, options), table, expected);
  return before && renderSavedTables(before);
}
