/**
 * The typed configuration. `toCaptureConfig` is the only place that ever sees upstream's
 * string encodings (`"*"`, `""`, `"TPROXY"`, `"1337,1338"`); everything after it works on
 * these values.
 */
import type { IpFamily } from '../model/family.js';
import type { Cidr, IpAddress, PortRange } from '../model/network.js';

/** "None", "all but these", or "only these": upstream's `""` / `"*"` / list encoding. */
export type Selection<T> =
  | { readonly kind: 'none' }
  | { readonly kind: 'all'; readonly except: readonly T[] }
  | { readonly kind: 'only'; readonly items: readonly T[] };

/** How inbound connections reach the proxy. */
export type Interception =
  | { readonly mode: 'redirect' }
  /** Mark and route table are decimal, as the `ip rule` setup needs them. */
  | { readonly mode: 'tproxy'; readonly mark: number; readonly routeTable: number };

/** DNS capture: upstream's three DNS settings folded into one value. */
export type DnsCapture =
  | { readonly mode: 'off' }
  | { readonly mode: 'servers'; readonly servers: readonly IpAddress[] }
  | { readonly mode: 'all' };

/** Everything the rule planner needs, fully resolved. */
export interface CaptureConfig {
  /** `['ipv4']` or `['ipv4', 'ipv6']`. */
  readonly families: readonly IpFamily[];
  readonly proxy: {
    /** UIDs and GIDs (numbers or names) whose traffic is the proxy's own. */
    readonly uids: readonly string[];
    readonly gids: readonly string[];
  };
  readonly inbound: {
    readonly ports: Selection<PortRange>;
    readonly capturePort: number;
    /** A port or a closed range, as written (upstream copies it into the rules). */
    readonly tunnelPort: PortRange;
    readonly interception: Interception;
  };
  readonly outbound: {
    readonly proxyPort: number;
    /** Excludes apply whatever the include is, so this is not a Selection. */
    readonly cidrs: { readonly include: 'all' | readonly Cidr[]; readonly exclude: readonly Cidr[] };
    readonly ports: { readonly include: readonly PortRange[]; readonly exclude: readonly PortRange[] };
    /** `only` with no items is valid: it captures no group (a bare RETURN). */
    readonly ownerGroups: Selection<string>;
  };
  readonly dns: DnsCapture;
  readonly interfaces: {
    readonly exclude: readonly string[];
    /** KubeVirt interfaces whose incoming traffic is treated as outbound. */
    readonly virtual: readonly string[];
  };
  readonly dropInvalid: boolean;
  /** Used verbatim, as upstream does (`127.0.0.1/8` stays as written). */
  readonly hostIPv4LoopbackCidr: Cidr;
  /**
   * Fix upstream's rule-level bugs instead of copying them: the tunnel port is exempted from
   * TPROXY capture, and DNS from the GID self-redirect. Off by default (byte parity).
   * @default false
   */
  readonly strict: boolean;
  /**
   * Merge CIDR lists and group port lists into multiport rules: fewer rules, the same effect
   * (see `plan/compact.ts`). Off by default (byte parity).
   * @default false
   */
  readonly compactRules: boolean;
  /**
   * `--iptables-trace-logging`: an NFLOG twin (group 1337) before each rule upstream names
   * (see `plan/trace.ts`).
   * @default false
   */
  readonly traceLogging: boolean;
}

/** How to run, kept apart from capture policy so the planner cannot depend on it. */
export interface RunOptions {
  readonly dryRun: boolean;
  readonly skipRuleApply: boolean;
  readonly runValidation: boolean;
  /** Original destination port of the validation probe; 0 only when validation is off. */
  readonly probePort: number;
  readonly probeTimeoutMs: number;
  /** Absent: the tool's own network namespace. */
  readonly networkNamespace?: string;
  /** Accepted for compatibility: every run takes its namespace's lock (exec/lock.ts) whatever it says. */
  readonly cniMode: boolean;
  /** How long to wait for the namespace's run lock, and legacy iptables for its xtables lock. */
  readonly lockTimeoutMs: number;
  readonly reconcile: boolean;
  readonly cleanupOnly: boolean;
  readonly forceApply: boolean;
  /** Native nftables (`inet` tables, one `nft -f -` transaction) instead of iptables. */
  readonly nativeNftables: boolean;
  /** `--migrate`: remove a copy of our rules found in the other backend in the same run. */
  readonly migrate: boolean;
  readonly iptables: 'auto' | 'legacy' | 'nft';
  /**
   * Write the rules with iptables-restore (true), or one iptables command per chain and rule
   * (`--restore-format=false`, see exec/per-rule.ts).
   */
  readonly restoreFormat: boolean;
  /** The pod address the validation probe uses (its family picks the probe addresses). */
  readonly hostIp?: IpAddress;
}
