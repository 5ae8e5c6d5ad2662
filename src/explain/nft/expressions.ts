/**
 * An nftables rule as `explain` evaluates it: the expressions of its text, in order. A rule is
 * a sequence: matches (a failing one ends the rule), statements (which change the packet) and
 * at most one verdict. Both spellings are read: the transaction text this tool writes
 * (`render/nft`: `mark 1337`, `skuid 1337`) and nft's listing of it (`meta mark 0x00000539`,
 * `meta skuid 1337`, counters with values), plus the common expressions of foreign rules.
 */

/** An inclusive range of numbers (addresses as bigint, ports, ids, marks as number). */
export interface Interval<T> {
  readonly first: T;
  readonly last: T;
}

/** A test on the packet. `negated` is nft's `!=` (for a set: not one of its elements). */
export type NftTest =
  | { readonly kind: 'interface'; readonly direction: 'in' | 'out'; readonly names: readonly string[] }
  /** `meta l4proto`; `ip protocol` / `ip6 nexthdr` also need the packet of that family. */
  | { readonly kind: 'l4proto'; readonly protocols: readonly string[]; readonly family?: 'ipv4' | 'ipv6' }
  | { readonly kind: 'nfproto'; readonly family: 'ipv4' | 'ipv6' }
  | {
      readonly kind: 'address';
      readonly family: 'ipv4' | 'ipv6';
      readonly field: 'saddr' | 'daddr';
      readonly ranges: readonly Interval<bigint>[];
    }
  /** `th` (transport header) is either protocol; `tcp`/`udp` imply their protocol. */
  | {
      readonly kind: 'port';
      readonly protocol: 'tcp' | 'udp' | 'th';
      readonly field: 'sport' | 'dport';
      readonly ranges: readonly Interval<number>[];
    }
  /** Numeric ids, or a name (`skuid "istio-proxy"` in a transaction), which the walk cannot resolve. */
  | {
      readonly kind: 'owner';
      readonly owner: 'uid' | 'gid';
      readonly ranges: readonly Interval<number>[];
      readonly name?: string;
    }
  /** `meta mark` or `ct mark`, optionally `& MASK`, against values. */
  | {
      readonly kind: 'mark';
      readonly of: 'packet' | 'conntrack';
      readonly mask?: number;
      readonly values: readonly number[];
    }
  | { readonly kind: 'ctState'; readonly states: readonly string[] }
  | { readonly kind: 'ctZone'; readonly zones: readonly number[] };

/** What a statement does to the packet. */
export type NftEffect =
  | { readonly kind: 'setMark'; readonly mark: number }
  /** `meta mark set ct mark`. */
  | { readonly kind: 'restoreMark' }
  /** `ct mark set mark` / `ct mark set meta mark`. */
  | { readonly kind: 'saveMark' }
  | { readonly kind: 'setCtMark'; readonly mark: number }
  | { readonly kind: 'ctZone'; readonly zone: number }
  /** `redirect to :P`: NAT to the local address; ends the chain as accept does. */
  | { readonly kind: 'redirect'; readonly toPort: number }
  /** `tproxy ip to :P`: assigns the local listener's socket; the rule goes on. */
  | { readonly kind: 'tproxy'; readonly family?: 'ipv4' | 'ipv6'; readonly toPort: number }
  /** Counters, comments, `meta nftrace set 1`: nothing the walk needs. */
  | { readonly kind: 'none' };

export type NftVerdict =
  | { readonly kind: 'accept' | 'drop' | 'reject' | 'return' | 'continue' }
  | { readonly kind: 'jump' | 'goto'; readonly chain: string };

/** One expression of a rule, with its text as written. */
export type NftItem =
  | { readonly kind: 'match'; readonly test: NftTest; readonly negated: boolean; readonly text: string }
  | { readonly kind: 'statement'; readonly effect: NftEffect; readonly text: string }
  | { readonly kind: 'verdict'; readonly verdict: NftVerdict; readonly text: string }
  /** A match the walk cannot evaluate: taken as no match, and said so. */
  | { readonly kind: 'unknownMatch'; readonly text: string }
  /** A statement the walk does not model (`log`, `dnat`, …): the walk goes on past it, and says so. */
  | { readonly kind: 'unknownStatement'; readonly text: string };
