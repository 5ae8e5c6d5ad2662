/**
 * The live tables of ours against the plan, both in the normal form of listing.ts: clean (none
 * of our tables), match (exactly the planned tables, chains and rules, nothing more), or drift
 * (anything else, with what differs). Tables of others are never looked at here.
 */
import { NFT_FAMILY, NFT_TABLES, type NftTableName, type NftTableState } from '../../model/nftables.js';
import { listedRule, normalHook, normalRule, type OwnerIds } from './listing.js';
import type { LiveTable } from './ruleset.js';

export type NftVerdict =
  | { readonly status: 'clean' }
  | { readonly status: 'match' }
  | { readonly status: 'drift'; readonly differences: readonly string[] };

const ours = (table: LiveTable) =>
  table.family === NFT_FAMILY && (NFT_TABLES as readonly string[]).includes(table.name);

/** Our tables among everything listed. */
export function ownTables(live: readonly LiveTable[]): LiveTable[] {
  return live.filter(ours);
}

/** The names of our tables that are live, in transaction order. */
export function ownTableNames(live: readonly LiveTable[]): NftTableName[] {
  return NFT_TABLES.filter((name) => live.some((t) => t.family === NFT_FAMILY && t.name === name));
}

function hookOf(state: NftTableState['chains'][number]): string | undefined {
  const base = state.chain.base;
  return base ? `${base.type} ${base.hook} ${base.priority} accept` : undefined;
}

function compareTable(planned: NftTableState, live: LiveTable, ids: OwnerIds): string[] {
  const where = (chain: string) => `${planned.name} ${chain}`;
  const out: string[] = live.other.map((line) => `${planned.name}: not in the plan: ${line}`);
  const liveChains = new Map(live.chains.map((c) => [c.name, c]));
  for (const state of planned.chains) {
    const chain = liveChains.get(state.chain.name);
    liveChains.delete(state.chain.name);
    if (!chain) {
      out.push(`${where(state.chain.name)}: chain missing`);
      continue;
    }
    const hook = chain.hook === undefined ? undefined : normalHook(chain.hook);
    if (hook !== hookOf(state)) out.push(`${where(chain.name)}: hook is "${chain.hook ?? 'none'}"`);
    const want = state.rules.map((rule) => normalRule(listedRule(rule, ids)));
    const have = chain.rules.map(normalRule);
    const length = Math.max(want.length, have.length);
    for (let i = 0; i < length; i++) {
      if (want[i] === have[i]) continue;
      out.push(`${where(chain.name)} rule ${i + 1}: expected ${want[i] ?? '(none)'}, found ${have[i] ?? '(none)'}`);
    }
  }
  for (const name of liveChains.keys()) out.push(`${where(name)}: chain not in the plan`);
  return out;
}

export function compareNft(planned: readonly NftTableState[], live: readonly LiveTable[], ids: OwnerIds): NftVerdict {
  const liveOurs = ownTables(live);
  if (liveOurs.length === 0) return planned.length === 0 ? { status: 'match' } : { status: 'clean' };
  const differences: string[] = [];
  for (const table of planned) {
    const found = liveOurs.find((t) => t.name === table.name);
    if (found) differences.push(...compareTable(table, found, ids));
    else differences.push(`${table.name}: table missing`);
  }
  for (const table of liveOurs) {
    if (!planned.some((p) => p.name === table.name)) differences.push(`${table.name}: table not in the plan`);
  }
  return differences.length === 0 ? { status: 'match' } : { status: 'drift', differences };
}

/**
 * Our chains of the iptables mode, as nft sees them (iptables-nft keeps them in tables
 * `ip nat`, `ip6 mangle`, …): `ip nat ISTIO_OUTPUT`, … Legacy iptables is not visible to nft.
 */
export function iptablesModeChains(live: readonly LiveTable[]): string[] {
  return live
    .filter((t) => t.family === 'ip' || t.family === 'ip6')
    .flatMap((t) => t.chains.filter((c) => c.name.startsWith('ISTIO_')).map((c) => `${t.family} ${t.name} ${c.name}`));
}
