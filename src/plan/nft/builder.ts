/**
 * Upstream's nftables rule builder: one ordered list of records per table, then serialised
 * into a transaction (spec §8): per table, `add table`, `flush table`, the chains that hold a
 * rule in their fixed candidate order, then the rules in creation order, where an insert into
 * a chain that does not yet hold more than `index` rules becomes an append.
 */
import type { IpFamily } from '../../model/family.js';
import type { RuleOrigin } from '../../model/netfilter.js';
import {
  NFT_TABLES,
  type NftAction,
  type NftChain,
  type NftChainName,
  type NftMatch,
  type NftOperation,
  type NftRule,
  type NftTableName,
  type NftTableState,
  type NftTransaction,
} from '../../model/nftables.js';

/** Which chains each table may declare, in declaration order; base chains with their hook spec. */
export const CANDIDATE_CHAINS: Readonly<Record<NftTableName, readonly NftChain[]>> = {
  'istio-proxy-nat': [
    { name: 'prerouting', base: { type: 'nat', hook: 'prerouting', priority: -100 } },
    { name: 'output', base: { type: 'nat', hook: 'output', priority: -100 } },
    { name: 'istio-inbound' },
    { name: 'istio-redirect' },
    { name: 'istio-in-redirect' },
    { name: 'istio-output' },
    { name: 'istio-output-dns' },
  ],
  'istio-proxy-mangle': [
    { name: 'prerouting', base: { type: 'filter', hook: 'prerouting', priority: -150 } },
    // Type route, so that a changed mark re-routes the packet, as iptables' mangle OUTPUT does.
    { name: 'output', base: { type: 'route', hook: 'output', priority: -150 } },
    { name: 'istio-divert' },
    { name: 'istio-tproxy' },
    { name: 'istio-inbound' },
    { name: 'istio-drop' },
  ],
  'istio-proxy-raw': [
    { name: 'prerouting', base: { type: 'filter', hook: 'prerouting', priority: -300 } },
    { name: 'output', base: { type: 'filter', hook: 'output', priority: -300 } },
    { name: 'istio-inbound' },
    { name: 'istio-output-dns' },
  ],
};

interface NftRecord {
  readonly chain: NftChainName;
  /** 0-based; present only on insert records. */
  readonly index?: number;
  readonly rule: NftRule;
}

/** Short table names, as the planner steps use them. */
export type ShortTable = 'nat' | 'mangle' | 'raw';
const TABLE: Readonly<Record<ShortTable, NftTableName>> = {
  nat: 'istio-proxy-nat',
  mangle: 'istio-proxy-mangle',
  raw: 'istio-proxy-raw',
};

/** Collects records per table in creation order. IPv6-only records are dropped when IPv6 is off. */
export class NftRecords {
  private readonly records = new Map<NftTableName, NftRecord[]>(NFT_TABLES.map((t) => [t, []]));
  readonly ipv6: boolean;

  constructor(families: readonly IpFamily[]) {
    this.ipv6 = families.includes('ipv6');
  }

  /** `origin`: the setting behind the rule, for `explain` (never rendered). */
  add(
    table: ShortTable,
    chain: NftChainName,
    matches: readonly NftMatch[],
    action: NftAction,
    origin?: RuleOrigin,
  ): void {
    this.records.get(TABLE[table])?.push({ chain, rule: { matches, action, ...(origin ? { origin } : {}) } });
  }

  insert(
    table: ShortTable,
    chain: NftChainName,
    index: number,
    matches: readonly NftMatch[],
    action: NftAction,
    origin?: RuleOrigin,
  ): void {
    this.records.get(TABLE[table])?.push({ chain, index, rule: { matches, action, ...(origin ? { origin } : {}) } });
  }

  /** Adds (or inserts, with `index`) a record that exists only when IPv6 is enabled. */
  v6(table: ShortTable, chain: NftChainName, matches: readonly NftMatch[], action: NftAction, index?: number): void {
    if (!this.ipv6) return;
    if (index === undefined) this.add(table, chain, matches, action);
    else this.insert(table, chain, index, matches, action);
  }

  /** Whether any record of the table is in this chain (a chain is declared only then). */
  holds(table: ShortTable, chain: NftChainName): boolean {
    return this.records.get(TABLE[table])?.some((r) => r.chain === chain) ?? false;
  }

  /** The transaction text's operations (spec §8). */
  transaction(): NftTransaction {
    const operations: NftOperation[] = [];
    for (const table of NFT_TABLES) {
      const records = this.records.get(table) ?? [];
      const chains = CANDIDATE_CHAINS[table].filter((c) => records.some((r) => r.chain === c.name));
      if (chains.length === 0) continue;
      operations.push({ verb: 'add', object: 'table', table }, { verb: 'flush', object: 'table', table });
      for (const chain of chains) operations.push({ verb: 'add', object: 'chain', table, chain });
      const count = new Map<NftChainName, number>();
      for (const { chain, index, rule } of records) {
        const held = count.get(chain) ?? 0;
        count.set(chain, held + 1);
        // knftables' Fake (and the kernel) refuse an index at or past the chain's end: upstream
        // writes such an insert as an append, counting inserts and appends alike.
        if (index === undefined || held === 0 || index >= held)
          operations.push({ verb: 'add', object: 'rule', table, chain, rule });
        else operations.push({ verb: 'insert', object: 'rule', table, chain, index, rule });
      }
    }
    return { operations };
  }
}

/** Upstream's `--cleanup-only` transaction: every table added (so it exists), then deleted. */
export function cleanupTransaction(): NftTransaction {
  return {
    operations: NFT_TABLES.flatMap((table): NftOperation[] => [
      { verb: 'add', object: 'table', table },
      { verb: 'delete', object: 'table', table },
    ]),
  };
}

/**
 * The tables a transaction leaves behind when applied to a namespace without them: chains in
 * declaration order, rules in kernel order (an insert goes before the rule at its index).
 */
export function tablesAfter(transaction: NftTransaction): NftTableState[] {
  const tables = new Map<NftTableName, Map<NftChainName, { chain: NftChain; rules: NftRule[] }>>();
  for (const op of transaction.operations) {
    if (op.object === 'table') {
      if (op.verb === 'add' && !tables.has(op.table)) tables.set(op.table, new Map());
      else if (op.verb === 'flush') for (const chain of tables.get(op.table)?.values() ?? []) chain.rules.length = 0;
      else if (op.verb === 'delete') tables.delete(op.table);
    } else if (op.object === 'chain') {
      if (op.verb === 'add') tables.get(op.table)?.set(op.chain.name, { chain: op.chain, rules: [] });
      else tables.get(op.table)?.delete(op.chain);
    } else {
      const rules = tables.get(op.table)?.get(op.chain)?.rules;
      if (op.verb === 'add') rules?.push(op.rule);
      else rules?.splice(op.index, 0, op.rule);
    }
  }
  return [...tables].map(([name, chains]) => ({ name, chains: [...chains.values()] }));
}
