/**
 * An nftables ruleset as `explain` walks it: tables (any family), chains (base chains with
 * their hook, priority and policy), rules as parsed expressions. From the plan of
 * `--native-nftables` (the rule text this tool writes), or from `nft list ruleset` text (a
 * saved listing or a live namespace), where rules this tool plans get the plan's provenance.
 */
import type { RuleOrigin } from '../../model/netfilter.js';
import { NFT_FAMILY, type NftTableState } from '../../model/nftables.js';
import { ruleText } from '../../render/nft/transaction.js';
import { listedRule, normalHook, normalRule, type OwnerIds } from '../../state/nft/listing.js';
import { parseRuleset } from '../../state/nft/ruleset.js';
import type { NftItem } from './expressions.js';
import { parseNftRule } from './parse.js';

export interface NftWalkRule {
  /** As written (the plan) or listed (counter values left out). */
  readonly text: string;
  readonly items: readonly NftItem[];
  readonly origin?: RuleOrigin;
}

export interface NftBaseHook {
  readonly type: string;
  readonly hook: string;
  readonly priority: number;
  readonly policy: 'accept' | 'drop';
}

export interface NftWalkChain {
  readonly name: string;
  readonly base?: NftBaseHook;
  readonly rules: readonly NftWalkRule[];
}

export interface NftWalkTable {
  /** `inet`, `ip`, `ip6` (others, such as `bridge` or `netdev`, are never walked). */
  readonly family: string;
  readonly name: string;
  readonly chains: ReadonlyMap<string, NftWalkChain>;
}

/** A ruleset and what its reader could not understand. */
export interface NftRuleset {
  readonly tables: readonly NftWalkTable[];
  readonly notes: readonly string[];
}

/** The tables a `--native-nftables` plan leaves, each rule with the setting that produced it. */
export function rulesetFromPlan(tables: readonly NftTableState[]): NftRuleset {
  return {
    tables: tables.map((table) => ({
      family: NFT_FAMILY,
      name: table.name,
      chains: new Map(
        table.chains.map(({ chain, rules }) => [
          chain.name,
          {
            name: chain.name,
            ...(chain.base ? { base: { ...chain.base, policy: 'accept' as const } } : {}),
            rules: rules.map((rule) => {
              const text = ruleText(rule);
              return { text, items: parseNftRule(text), ...(rule.origin ? { origin: rule.origin } : {}) };
            }),
          },
        ]),
      ),
    })),
    notes: [],
  };
}

/** `nat output -100 accept` (listing.ts's normal form of a hook line) → the base chain's hook. */
function baseHook(line: string): NftBaseHook | string {
  const [type = '', hook = '', priority = '', policy = ''] = normalHook(line).split(' ');
  if (!/^-?[0-9]+$/.test(priority) || (policy !== 'accept' && policy !== 'drop'))
    return `base chain hook not understood: ${line}`;
  return { type, hook, priority: Number(priority), policy };
}

/** `nft list ruleset` text → the ruleset; other lines of a table (sets, maps, flowtables) are noted. */
export function rulesetFromListing(text: string): NftRuleset {
  const notes: string[] = [];
  const tables = parseRuleset(text).map((table): NftWalkTable => {
    for (const line of table.other)
      notes.push(`${table.family} ${table.name}: not understood, left out: ${line.trim()}`);
    const chains = new Map<string, NftWalkChain>();
    for (const chain of table.chains) {
      const hook = chain.hook === undefined ? undefined : baseHook(chain.hook);
      if (typeof hook === 'string') notes.push(`${table.family} ${table.name} ${chain.name}: ${hook}`);
      const rules = chain.rules.map((line) => {
        const shown = line.replace(/ ?counter packets \d+ bytes \d+/g, (m) =>
          m.startsWith(' ') ? ' counter' : 'counter',
        );
        return { text: shown, items: parseNftRule(shown) };
      });
      chains.set(chain.name, { name: chain.name, ...(hook && typeof hook !== 'string' ? { base: hook } : {}), rules });
    }
    return { family: table.family, name: table.name, chains };
  });
  return { tables, notes };
}

/** Whether some text is `nft list ruleset` output (a `table FAMILY NAME {` line) rather than iptables-save's. */
export function isNftListing(text: string): boolean {
  return /^table (inet|ip|ip6|arp|bridge|netdev) \S+ \{$/m.test(text);
}

const NO_IDS: OwnerIds = { users: new Map(), groups: new Map() };

/**
 * The listed ruleset with the plan's provenance on every rule of our tables that is, in
 * nft's normal form (state/nft/listing.ts), one the plan has in the same table and chain.
 */
export function withPlannedNftOrigins(ruleset: NftRuleset, planned: readonly NftTableState[]): NftRuleset {
  const origins = new Map<string, RuleOrigin>();
  for (const table of planned)
    for (const { chain, rules } of table.chains)
      for (const rule of rules)
        if (rule.origin)
          origins.set(`${table.name} ${chain.name} ${normalRule(listedRule(rule, NO_IDS))}`, rule.origin);
  const tables = ruleset.tables.map((table): NftWalkTable => {
    if (table.family !== NFT_FAMILY) return table;
    const chains = new Map<string, NftWalkChain>();
    for (const [name, chain] of table.chains) {
      const rules = chain.rules.map((rule) => {
        const origin = rule.origin ?? origins.get(`${table.name} ${name} ${normalRule(rule.text)}`);
        return origin ? { ...rule, origin } : rule;
      });
      chains.set(name, { ...chain, rules });
    }
    return { ...table, chains };
  });
  return { ...ruleset, tables };
}
