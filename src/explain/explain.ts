/** `explain`'s entry points: a connection through a plan, or through tables read elsewhere. */
import type { IpFamily } from '../model/family.js';
import type { KernelTables } from '../model/kernel-rule.js';
import type { CapturePlan } from '../plan/plan-capture.js';
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
  if (source.tables.has(connection.family)) return walked;
  return { ...walked, notes: [`no ${connection.family} rules in the ${source.name}`, ...walked.notes] };
}
