/**
 * The netfilter vocabulary of the planner: tables, chains, matches, targets and rule
 * operations, as data. Only `render/args.ts` turns these into iptables argument spellings.
 */
import type { IpFamily } from './family.js';
import type { BuiltinChain, IstioChain } from './chains.js';
import type { Cidr, PortRange } from './network.js';

/**
 * The tables this tool reads, in the order restore payloads list them (their built-in chains:
 * `BUILTINS_BY_TABLE` in chains.ts). The one list of them.
 */
export const TABLES = ['filter', 'mangle', 'nat', 'raw'] as const;
export type TableName = (typeof TABLES)[number];

/** The tables a plan may write to (never filter): where rules of ours can be live. */
export const CAPTURE_TABLES: readonly TableName[] = TABLES.filter((table) => table !== 'filter');

/** Any chain the tool may name; a typo fails to compile. */
export type ChainName = BuiltinChain | IstioChain;

/** Owner match on the socket's user or group (`-m owner`). */
export type OwnerKind = 'uid' | 'gid';

/** One match of a rule, rendered in list order. */
export type Match =
  | { readonly kind: 'protocol'; readonly protocol: 'tcp' | 'udp' }
  | { readonly kind: 'source'; readonly cidr: Cidr; readonly negated?: true }
  | { readonly kind: 'destination'; readonly cidr: Cidr; readonly negated?: true }
  | { readonly kind: 'inInterface'; readonly name: string }
  | { readonly kind: 'outInterface'; readonly name: string }
  | { readonly kind: 'destinationPort'; readonly port: PortRange; readonly negated?: true }
  | { readonly kind: 'sourcePort'; readonly port: PortRange }
  /** `-m multiport --dports a,b,…` (at most 15 ports, a range counting as two). */
  | { readonly kind: 'multiport'; readonly ports: readonly PortRange[]; readonly negated?: true }
  | { readonly kind: 'owner'; readonly owner: OwnerKind; readonly id: string; readonly negated?: true }
  | { readonly kind: 'mark'; readonly mark: number; readonly negated?: true }
  | { readonly kind: 'connmark'; readonly mark: number }
  | { readonly kind: 'conntrack'; readonly states: readonly ('INVALID' | 'RELATED' | 'ESTABLISHED')[] };

/** What a rule does with a packet that matches. */
export type Target =
  | { readonly kind: 'jump'; readonly chain: IstioChain }
  | { readonly kind: 'return' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'drop' }
  /**
   * `-j REDIRECT --to-ports P`. Upstream spells the UDP DNS redirect `--to-port` (an accepted
   * abbreviation); `singularOption` keeps that spelling for byte parity.
   */
  | { readonly kind: 'redirect'; readonly toPort: number; readonly singularOption?: true }
  | { readonly kind: 'tproxy'; readonly onPort: number; readonly mark: number }
  | { readonly kind: 'setMark'; readonly mark: number }
  | { readonly kind: 'connmark'; readonly action: 'save' | 'restore' }
  | { readonly kind: 'ct'; readonly zone: number };

/**
 * Why the planner wrote a rule: the setting a user would change (as typed on the command
 * line, e.g. `-d 15021`), and what the rule does, in words. Data for `explain`; never rendered.
 */
export interface RuleOrigin {
  readonly setting: string;
  readonly why: string;
}

/** A rule in one table and chain. */
export interface Rule {
  readonly table: TableName;
  readonly chain: ChainName;
  readonly matches: readonly Match[];
  readonly target: Target;
  /** Provenance for `explain`; not part of the rule's text. */
  readonly origin?: RuleOrigin;
}

/** Append (`-A`) or insert at a 1-based position (`-I CHAIN N`). */
export type RuleOp =
  | { readonly op: 'append'; readonly rule: Rule }
  | { readonly op: 'insert'; readonly position: number; readonly rule: Rule };

/** The ordered rule operations of one IP family, in creation order. */
export interface Ruleset {
  readonly family: IpFamily;
  readonly ops: readonly RuleOp[];
}
