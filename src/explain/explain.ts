/** `explain`'s entry points: a connection through a plan, or through tables read elsewhere. */
import type { IpFamily } from '../model/family.js';
import type { KernelChain, KernelTables } from '../model/kernel-rule.js';
import type { TableName } from '../model/netfilter.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import type { SavedRules } from '../state/rule-parser.js';
import type { Connection } from './packet.js';
import { tablesFromRuleset } from './tables.js';
import { walk, type Routing, type Walk } from './walk.js';

/** The rules of each family, and what is known of policy routing. */
export interface RuleSource {
  /** Where the rules came from, for the output: `plan`, `save FILE`, `live`. */
  readonly name: string;
  readonly tables: ReadonlyMap<IpFamily, KernelTables>;
  /** Undefined: not known (a saved dump has no `ip rule`); assumptions are then noted. */
  readonly routing?: ReadonlyMap<IpFamily, Routing>;
  /** What the reader could not read (whole lines), reported with every walk. */
  readonly notes?: readonly string[];
}

/** A dump may come in parts (a header per table, or an iptables-save and an ip6tables-save output). */
function mergeByFamily(dumps: readonly SavedRules[]): ReadonlyMap<IpFamily, KernelTables> {
  const merged = new Map<IpFamily, Map<TableName, ReadonlyMap<string, KernelChain>>>();
  for (const dump of dumps) {
    const tables = merged.get(dump.family) ?? new Map();
    for (const [table, chains] of dump.tables) tables.set(table, chains);
    merged.set(dump.family, tables);
  }
  return merged;
}

/** Saved or live dumps (one per family) as a rule source. */
export function savedSource(
  name: string,
  dumps: readonly SavedRules[],
  routing?: ReadonlyMap<IpFamily, Routing>,
): RuleSource {
  return {
    name,
    tables: mergeByFamily(dumps),
    ...(routing ? { routing } : {}),
    notes: dumps.flatMap((dump) =>
      dump.unreadable.map((line) => `${dump.family}: line not understood, left out: ${line}`),
    ),
  };
}

/** The plan as a rule source: the tables its rulesets leave, and its TPROXY policy routes. */
export function planSource(plan: CapturePlan): RuleSource {
  const routing = new Map<IpFamily, Routing>();
  for (const ruleset of plan.rulesets) {
    const fwmarks = plan.network.flatMap((step) =>
      step.kind === 'policyRule' && step.family === ruleset.family
        ? [{ mark: step.mark, mask: 0xffffffff, table: step.table }]
        : [],
    );
    routing.set(ruleset.family, { fwmarks });
  }
  return {
    name: 'plan',
    tables: new Map(plan.rulesets.map((ruleset) => [ruleset.family, tablesFromRuleset(ruleset)])),
    routing,
  };
}

/** Walks a connection through the source's rules of its family (none: nothing intercepts it). */
export function explainConnection(source: RuleSource, connection: Connection): Walk {
  const tables = source.tables.get(connection.family) ?? new Map();
  const walked = walk(tables, connection, source.routing?.get(connection.family));
  const missing = source.tables.has(connection.family) ? [] : [`no ${connection.family} rules in the ${source.name}`];
  return { ...walked, notes: [...missing, ...(source.notes ?? []), ...walked.notes] };
}
