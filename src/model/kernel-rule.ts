/**
 * Rules as the kernel may hold them: what the planner writes (`Rule`), and also what an
 * iptables-save dump of someone else's rules may contain — any chain name, masked marks,
 * negated matches the planner never writes, comments, and matches or targets this tool does
 * not understand (kept as text, so that `explain` can say it does not know them).
 * Every planned `Match` and `Target` is one of these (see `fromPlanned` in explain/tables.ts).
 */
import type { OwnerKind, RuleOrigin, TableName } from './netfilter.js';
import type { Cidr, PortRange } from './network.js';

type Not = { readonly negated?: true };

/** One match of a rule, as the kernel evaluates it. */
export type KernelMatch =
  /** `-p tcp`; `all` matches every protocol. */
  | ({ readonly kind: 'protocol'; readonly protocol: string } & Not)
  | ({ readonly kind: 'source'; readonly cidr: Cidr } & Not)
  | ({ readonly kind: 'destination'; readonly cidr: Cidr } & Not)
  /** A name ending in `+` matches every interface with that prefix. */
  | ({ readonly kind: 'inInterface'; readonly name: string } & Not)
  | ({ readonly kind: 'outInterface'; readonly name: string } & Not)
  | ({ readonly kind: 'destinationPort'; readonly port: PortRange } & Not)
  | ({ readonly kind: 'sourcePort'; readonly port: PortRange } & Not)
  /** `-m multiport --dports|--sports|--ports`; the planner writes destination ports only. */
  | ({
      readonly kind: 'multiport';
      readonly ports: readonly PortRange[];
      readonly direction?: 'destination' | 'source' | 'either';
    } & Not)
  | ({ readonly kind: 'owner'; readonly owner: OwnerKind; readonly id: string } & Not)
  /** `-m mark --mark value[/mask]`: `(mark & mask) == value`; the mask defaults to all ones. */
  | ({ readonly kind: 'mark'; readonly mark: number; readonly mask?: number } & Not)
  | ({ readonly kind: 'connmark'; readonly mark: number; readonly mask?: number } & Not)
  | ({ readonly kind: 'conntrack'; readonly states: readonly string[] } & Not)
  /** `-m comment`: always matches. */
  | { readonly kind: 'comment'; readonly text: string }
  /** Anything else, as written (`-m bpf --bytecode …`): evaluated as "no match", and said so. */
  | { readonly kind: 'unknown'; readonly text: string };

/** What a rule does with a packet that matches. */
export type KernelTarget =
  /** `-j CHAIN` (`goto`: `-g CHAIN`, which does not come back to this chain). */
  | { readonly kind: 'jump'; readonly chain: string; readonly goto?: true }
  | { readonly kind: 'return' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'reject' }
  | { readonly kind: 'redirect'; readonly toPort: number; readonly singularOption?: true }
  /** `--tproxy-mark value/mask`: the mask defaults to all ones. */
  | { readonly kind: 'tproxy'; readonly onPort: number; readonly mark: number; readonly mask?: number }
  /** `--set-xmark value/mask`: mark = (mark & ~mask) ^ value; `--set-mark X` is `X/0xffffffff`. */
  | { readonly kind: 'setMark'; readonly mark: number; readonly mask?: number }
  | { readonly kind: 'connmark'; readonly action: 'save' | 'restore' }
  | { readonly kind: 'ct'; readonly zone: number }
  /** `-j NFLOG`: logs the packet to a netlink group (`--iptables-trace-logging`) and goes on. */
  | { readonly kind: 'nflog'; readonly prefix: string; readonly group: number; readonly size: number }
  /** A rule without `-j`: it only counts packets. */
  | { readonly kind: 'none' }
  /** A target this tool does not model (LOG, MASQUERADE, …), as written. */
  | { readonly kind: 'unknown'; readonly name: string; readonly text: string };

/** A rule of any chain, with the text it is shown with. */
export interface KernelRule {
  readonly table: TableName;
  readonly chain: string;
  readonly matches: readonly KernelMatch[];
  readonly target: KernelTarget;
  /** `-A CHAIN …`, as iptables-save prints it (or as this tool renders a planned rule). */
  readonly text: string;
  /** For planned rules: the setting that produced it. */
  readonly origin?: RuleOrigin;
  /** For rules read from save text: the canonical key (state/canonical.ts), to find planned twins. */
  readonly key?: string;
}

/** A chain's rules in kernel order, and its policy (built-in chains only). */
export interface KernelChain {
  readonly policy?: 'ACCEPT' | 'DROP';
  readonly rules: readonly KernelRule[];
}

/** The rules of one family: `table → chain → chain's rules`. */
export type KernelTables = ReadonlyMap<TableName, ReadonlyMap<string, KernelChain>>;
