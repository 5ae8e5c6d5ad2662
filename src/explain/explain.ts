/** `explain`'s entry points: a connection through a plan, or through tables read elsewhere. */
import { FAMILIES, type IpFamily } from '../model/family.js';
import type { KernelChain, KernelTables } from '../model/kernel-rule.js';
import type { TableName } from '../model/netfilter.js';
import type { NftPlan } from '../plan/nft/plan-nft.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import type { NetworkStep } from '../plan/routes.js';
import type { SavedRules } from '../state/rule-parser.js';
import type { Connection } from './packet.js';
import { tablesFromRuleset } from './tables.js';
import { walk, type Routing, type Walk } from './walk.js';
import { rulesetFromPlan, type NftRuleset } from './nft/ruleset.js';
import { walkNft } from './nft/walk.js';

/** The rules of each family, and what is known of policy routing. */
export interface RuleSource {
  /** Where the rules came from, for the output: `plan`, `save FILE`, `live`. */
  readonly name: string;
  readonly tables: ReadonlyMap<IpFamily, KernelTables>;
  /** Undefined: not known (a saved dump has no `ip rule`); assumptions are then noted. */
  readonly routing?: ReadonlyMap<IpFamily, Routing>;
  /** What the reader could not read (whole lines), reported with every walk. */
  readonly notes?: readonly string[];
  /** A native nftables ruleset (`--native-nftables`, an `nft list ruleset` listing): walked instead of `tables`. */
  readonly nftables?: NftRuleset;
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

/** The fwmark policy rules a plan adds, per family. */
function plannedRouting(network: readonly NetworkStep[], families: readonly IpFamily[]): Map<IpFamily, Routing> {
  const routing = new Map<IpFamily, Routing>();
  for (const family of families) {
    const fwmarks = network.flatMap((step) =>
      step.kind === 'policyRule' && step.family === family
        ? [{ mark: step.mark, mask: 0xffffffff, table: step.table }]
        : [],
    );
    routing.set(family, { fwmarks });
  }
  return routing;
}

/** The plan as a rule source: the tables its rulesets leave, and its TPROXY policy routes. */
export function planSource(plan: CapturePlan): RuleSource {
  return {
    name: 'plan',
    tables: new Map(plan.rulesets.map((ruleset) => [ruleset.family, tablesFromRuleset(ruleset)])),
    routing: plannedRouting(
      plan.network,
      plan.rulesets.map((r) => r.family),
    ),
  };
}

/** A `--native-nftables` plan as a rule source: the tables its transaction leaves, and its routes. */
export function nftPlanSource(plan: NftPlan): RuleSource {
  return {
    name: 'plan (native nftables)',
    tables: new Map(),
    nftables: rulesetFromPlan(plan.tables),
    routing: plannedRouting(plan.network, FAMILIES),
  };
}

/** An `nft list ruleset` listing (saved or live) as a rule source. */
export function nftSource(name: string, ruleset: NftRuleset, routing?: ReadonlyMap<IpFamily, Routing>): RuleSource {
  return { name, tables: new Map(), nftables: ruleset, ...(routing ? { routing } : {}), notes: ruleset.notes };
}

/** Walks a connection through the source's rules of its family (none: nothing intercepts it). */
export function explainConnection(source: RuleSource, connection: Connection): Walk {
  if (source.nftables) {
    const walked = walkNft(source.nftables, connection, source.routing?.get(connection.family));
    return { ...walked, notes: [...(source.notes ?? []), ...walked.notes] };
  }
  const tables = source.tables.get(connection.family) ?? new Map();
  const walked = walk(tables, connection, source.routing?.get(connection.family));
  const missing = source.tables.has(connection.family) ? [] : [`no ${connection.family} rules in the ${source.name}`];
  return { ...walked, notes: [...missing, ...(source.notes ?? []), ...walked.notes] };
}
