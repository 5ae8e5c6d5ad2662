/**
 * The policy routing an earlier TPROXY configuration left that the plan does not keep: its
 * `fwmark M lookup T` rule and its `local default dev lo table T` route, after a change to
 * REDIRECT or to another mark or table. They are ours only in the exact shape a run writes:
 * a plain `from all fwmark M lookup T` rule whose mark M live rules of ours carry
 * (ours.ts `liveTproxyMarks`), and a table T that holds nothing but that one route.
 */
import { FAMILY, type IpFamily } from '../model/family.js';
import type { NetworkStep } from '../plan/routes.js';
import { type FwmarkRule, parseFwmarkRules } from './ip-rule.js';

/** The one route a run puts in its table, as `ip route show table T` prints it. */
export function isOurLocalRoute(line: string): boolean {
  return /^local default dev lo( |$)/.test(line.trim());
}

/** The fwmark rules of a family that may be an earlier run's: plain, of a mark of ours, not planned. */
export function staleRuleCandidates(
  family: IpFamily,
  rules: readonly FwmarkRule[],
  marks: readonly number[],
  planned: readonly NetworkStep[],
): FwmarkRule[] {
  const plannedRule = (rule: FwmarkRule) =>
    planned.some(
      (s) => s.kind === 'policyRule' && s.family === family && s.mark === rule.mark && s.table === rule.table,
    );
  const seen = new Set<string>();
  return rules.filter((rule) => {
    const key = `${rule.mark}/${rule.table}`;
    if (!rule.plain || !marks.includes(rule.mark) || plannedRule(rule) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The steps that remove an earlier run's policy routing, given the candidates' route tables
 * (`routes`: table → the lines `ip route show table T` prints). A table holding anything but
 * our route is another user's: neither it nor the rules that look it up are touched. A table
 * the plan routes through, or another policy rule of `listing` (`ip rule show`) looks up,
 * keeps its route.
 */
export function staleTproxySteps(
  family: IpFamily,
  listing: string,
  candidates: readonly FwmarkRule[],
  routes: ReadonlyMap<number, readonly string[]>,
  planned: readonly NetworkStep[],
): NetworkStep[] {
  const rules: NetworkStep[] = [];
  const tables = new Set<number>();
  for (const rule of candidates) {
    const lines = (routes.get(rule.table) ?? []).filter((line) => line.trim() !== '');
    if (!lines.every(isOurLocalRoute)) continue;
    rules.push({ kind: 'policyRule', family, mark: rule.mark, table: rule.table });
    const plannedTable = planned.some((s) => s.kind === 'localRoute' && s.family === family && s.table === rule.table);
    if (lines.length > 0 && !plannedTable) tables.add(rule.table);
  }
  const removed = (line: string) => {
    const [parsed] = parseFwmarkRules(line);
    return (
      parsed?.plain === true &&
      rules.some((s) => s.kind === 'policyRule' && s.mark === parsed.mark && s.table === parsed.table)
    );
  };
  for (const line of listing.split('\n')) {
    const table = /\blookup (\d+)\b/.exec(line)?.[1];
    if (table !== undefined && !removed(line)) tables.delete(Number(table));
  }
  const localRoutes = [...tables].map(
    (table): NetworkStep => ({ kind: 'localRoute', family, destination: FAMILY[family].anyAddress, table }),
  );
  return [...rules, ...localRoutes];
}
