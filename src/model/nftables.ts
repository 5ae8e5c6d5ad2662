/**
 * The native nftables vocabulary (`--native-nftables`): Istio's three `inet` tables, their
 * chains (base chains with hook, type and priority; regular chains reached by `jump`), and
 * rules as typed matches and one action. Only `render/nft/` spells these as nft text, and
 * `state/nft/` as nft lists them back. Exported so that other readers (such as `explain`)
 * can walk a planned or parsed ruleset.
 */
import type { RuleOrigin } from './netfilter.js';
import type { PortRange } from './network.js';

/** Upstream's tables, in the fixed order a transaction handles them (not alphabetical). */
export const NFT_TABLES = ['istio-proxy-nat', 'istio-proxy-mangle', 'istio-proxy-raw'] as const;
export type NftTableName = (typeof NFT_TABLES)[number];

/** The nft family of every table: one table holds IPv4 and IPv6. */
export const NFT_FAMILY = 'inet';

export type NftBaseChainName = 'prerouting' | 'output';
/** The regular chains: lower-case, dash-separated twins of the iptables `ISTIO_*` chains. */
export type NftRegularChainName =
  | 'istio-inbound'
  | 'istio-redirect'
  | 'istio-in-redirect'
  | 'istio-output'
  | 'istio-output-dns'
  | 'istio-divert'
  | 'istio-tproxy'
  | 'istio-drop';
export type NftChainName = NftBaseChainName | NftRegularChainName;

/** What attaches a base chain to a netfilter hook. No policy is written: the kernel's is accept. */
export interface NftBaseChainSpec {
  readonly type: 'nat' | 'filter' | 'route';
  readonly hook: NftBaseChainName;
  /** Numeric, as upstream writes it (knftables' dstnat −100, mangle −150, raw −300). */
  readonly priority: number;
}

export interface NftChain {
  readonly name: NftChainName;
  /** Present for base chains only. */
  readonly base?: NftBaseChainSpec;
}

/** IPv4 (`ip`) or IPv6 (`ip6`) header; a rule without either matches both in an `inet` table. */
export type NftAddressFamily = 'ip' | 'ip6';

/** One match, rendered in list order. */
export type NftMatch =
  | { readonly kind: 'iifname' | 'oifname'; readonly name: string }
  /** `meta l4proto tcp`. */
  | { readonly kind: 'l4proto'; readonly protocol: 'tcp' }
  /** `meta nfproto ipv6`: the packet's family, in an `inet` table. */
  | { readonly kind: 'nfproto'; readonly family: 'ipv4' | 'ipv6' }
  /** One value, or an anonymous set `{ a, b }` when there are several (`--compact-rules`). */
  | {
      readonly kind: 'address';
      readonly family: NftAddressFamily;
      readonly field: 'saddr' | 'daddr';
      readonly values: readonly string[];
      readonly negated?: true;
    }
  /** One port or range, or an anonymous set of them. */
  | {
      readonly kind: 'port';
      readonly protocol: 'tcp' | 'udp';
      readonly field: 'sport' | 'dport';
      readonly ports: readonly PortRange[];
      /** Written as a set even with one element (upstream's `{ 53, TUN }`). */
      readonly set?: true;
      readonly negated?: true;
    }
  /** `skuid U` / `skgid G`; `meta` is the spelling of upstream's raw-table rules. */
  | {
      readonly kind: 'owner';
      readonly owner: 'uid' | 'gid';
      readonly id: string;
      readonly negated?: true;
      readonly meta?: true;
    }
  | { readonly kind: 'mark'; readonly mark: number; readonly negated?: true }
  | { readonly kind: 'ctMark'; readonly mark: number }
  | { readonly kind: 'ctState'; readonly states: readonly ('invalid' | 'related' | 'established')[] };

/** What a matching packet gets. Every rule carries a `counter`; where it goes depends on this. */
export type NftAction =
  | { readonly kind: 'return' | 'accept' | 'drop' }
  | { readonly kind: 'jump'; readonly chain: NftRegularChainName }
  | { readonly kind: 'redirect'; readonly toPort: number }
  /** `tproxy ip to :P meta mark set M counter accept`. */
  | { readonly kind: 'tproxy'; readonly family: NftAddressFamily; readonly toPort: number; readonly mark: number }
  | { readonly kind: 'setMark'; readonly mark: number }
  /** `ct mark set mark` (iptables' CONNMARK --save-mark). */
  | { readonly kind: 'saveMark' }
  /** `meta mark set ct mark` (CONNMARK --restore-mark). */
  | { readonly kind: 'restoreMark' }
  | { readonly kind: 'ctZone'; readonly zone: number };

export interface NftRule {
  readonly matches: readonly NftMatch[];
  readonly action: NftAction;
  /** Provenance for `explain`: the setting that produced the rule. Never rendered. */
  readonly origin?: RuleOrigin;
}

/** One line of a transaction. */
export type NftOperation =
  | { readonly verb: 'add' | 'flush' | 'delete'; readonly object: 'table'; readonly table: NftTableName }
  | { readonly verb: 'add'; readonly object: 'chain'; readonly table: NftTableName; readonly chain: NftChain }
  | { readonly verb: 'delete'; readonly object: 'chain'; readonly table: NftTableName; readonly chain: NftChainName }
  | {
      readonly verb: 'add';
      readonly object: 'rule';
      readonly table: NftTableName;
      readonly chain: NftChainName;
      readonly rule: NftRule;
    }
  /** Placed before the rule now at 0-based `index` of the chain. */
  | {
      readonly verb: 'insert';
      readonly object: 'rule';
      readonly table: NftTableName;
      readonly chain: NftChainName;
      readonly index: number;
      readonly rule: NftRule;
    };

/** The planned state of one table: its chains in declaration order, each with its rules in kernel order. */
export interface NftTableState {
  readonly name: NftTableName;
  readonly chains: readonly { readonly chain: NftChain; readonly rules: readonly NftRule[] }[];
}

/** An ordered list of operations: exactly the stdin of `nft -f -`. */
export interface NftTransaction {
  readonly operations: readonly NftOperation[];
}
