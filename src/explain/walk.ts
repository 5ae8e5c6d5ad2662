/**
 * Walks a connection's first packet through the rules in the kernel's order. For a packet a
 * process in the pod sends: the OUTPUT hook (raw, mangle, nat, filter), then POSTROUTING
 * (mangle, nat). For a packet arriving: PREROUTING (raw, mangle, nat), the routing decision
 * (where a TPROXY mark selects the local table of `ip rule fwmark … lookup …`), then INPUT
 * (mangle, filter, nat). Only the first packet passes the nat table, and its conntrack state
 * is NEW, which is what `explain` describes: the connection's fate is decided there.
 *
 * The walker sees only `KernelTables`, whatever their source (the plan, a saved dump, a live
 * namespace); native nftables rulesets have their own walker (nft/walk.ts) with the same `Walk` result.
 *
 * (Longer than ~200 lines: the hook order, the chain walk and each target's effect on the
 * packet are one piece of kernel behaviour, read best together.)
 */
import type { KernelRule, KernelTables, KernelTarget } from '../model/kernel-rule.js';
import type { RuleOrigin, TableName } from '../model/netfilter.js';
import { parseIpAddress } from '../model/network.js';
import { evaluateMatch } from './evaluate.js';
import { firstPacket, type Connection, type ConnState, type PacketState } from './packet.js';

/** One rule tried (or a built-in chain's policy applied), in walk order. */
export interface PathStep {
  /** `nat`, … for iptables; `inet istio-proxy-nat`, … (family and name) for nftables. */
  readonly table: string;
  readonly chain: string;
  /** The rule's text, or `-P CHAIN POLICY` when the walk fell off a built-in chain. */
  readonly rule: string;
  readonly matched: boolean;
  readonly origin?: RuleOrigin;
  /** How an unusual match was decided (an unknown match, an owner name, …). */
  readonly notes?: readonly string[];
}

/** The rule that decided, and the jumps that led to it. */
export interface Decision {
  readonly table: string;
  readonly chain: string;
  readonly rule: string;
  /** 1-based position in its chain (absent for a policy). */
  readonly position?: number;
  /** The walk fell off a base chain (or returned from it): its policy decided. */
  readonly policy?: true;
  readonly origin?: RuleOrigin;
  readonly via: readonly PathStep[];
}

export type Outcome = 'redirect' | 'tproxy' | 'accept' | 'drop';

/** Policy routing as far as it is known: the marks `ip rule` sends to a table. */
export interface Routing {
  readonly fwmarks: readonly { readonly mark: number; readonly mask: number; readonly table: number }[];
}

export interface Walk {
  readonly connection: Connection;
  readonly outcome: Outcome;
  /** For redirect and tproxy: the port the connection is delivered to. */
  readonly toPort?: number;
  readonly decidedBy: Decision;
  /** Every chain entered and rule tried, in order. */
  readonly path: readonly PathStep[];
  /** Things the walk had to assume or could not evaluate. */
  readonly notes: readonly string[];
  /** The packet after the walk: its destination after NAT, its mark and conntrack zone. */
  readonly final: {
    readonly destination: string;
    readonly destinationPort: number;
    readonly mark: number;
    readonly zone: number;
  };
}

/** What a walker (of iptables or of nftables rules) has recorded when its walk ends. */
export interface WalkState {
  readonly path: readonly PathStep[];
  readonly notes: readonly string[];
  readonly packet: PacketState;
  /** The last RETURN or ACCEPT that let the packet pass, with the jumps that led to it. */
  readonly lastPass: Decision | undefined;
  readonly capture: { decision: Decision; outcome: 'redirect' | 'tproxy'; toPort: number } | undefined;
}

/**
 * A walk's result: dropped by `dropped`, else captured, else accepted by the last rule that let
 * the packet pass, or by `policy` (the chain policy or default that ended the walk) without one.
 */
export function walkResult(
  connection: Connection,
  w: WalkState,
  dropped: Decision | undefined,
  policy: Decision,
): Walk {
  const final = {
    destination: w.packet.destination.text,
    destinationPort: w.packet.destinationPort,
    mark: w.packet.mark,
    zone: w.packet.zone,
  };
  const base = { connection, path: w.path, notes: w.notes, final };
  if (dropped) return { ...base, outcome: 'drop', decidedBy: dropped };
  if (w.capture)
    return { ...base, outcome: w.capture.outcome, toPort: w.capture.toPort, decidedBy: w.capture.decision };
  return { ...base, outcome: 'accept', decidedBy: w.lastPass ?? policy };
}

type Hook = { readonly name: 'PREROUTING' | 'INPUT' | 'OUTPUT' | 'POSTROUTING'; readonly tables: readonly TableName[] };

const HOOKS: Readonly<Record<Connection['direction'], readonly Hook[]>> = {
  outbound: [
    { name: 'OUTPUT', tables: ['raw', 'mangle', 'nat', 'filter'] },
    { name: 'POSTROUTING', tables: ['mangle', 'nat'] },
  ],
  inbound: [
    { name: 'PREROUTING', tables: ['raw', 'mangle', 'nat'] },
    { name: 'INPUT', tables: ['mangle', 'filter', 'nat'] },
  ],
};

const MAX_DEPTH = 32;
const LOOPBACK = { ipv4: '127.0.0.1', ipv6: '::1' } as const;

/** How a chain's walk ended: it fell off or returned, or a verdict ended the table. */
type ChainEnd =
  | { readonly kind: 'continue' }
  | { readonly kind: 'verdict'; readonly rule: KernelRule; readonly target: KernelTarget };

class Walker {
  readonly path: PathStep[] = [];
  readonly notes: string[] = [];
  private readonly stack: PathStep[] = [];
  /** The last RETURN or ACCEPT that let the packet pass, with the jumps that led to it. */
  lastPass: Decision | undefined;
  dropped: Decision | undefined;
  capture: { decision: Decision; outcome: 'redirect' | 'tproxy'; toPort: number } | undefined;

  constructor(
    private readonly tables: KernelTables,
    readonly packet: PacketState,
  ) {}

  private decision(rule: KernelRule): Decision {
    return {
      table: rule.table,
      chain: rule.chain,
      rule: rule.text,
      position: (this.tables.get(rule.table)?.get(rule.chain)?.rules.indexOf(rule) ?? -1) + 1,
      ...(rule.origin ? { origin: rule.origin } : {}),
      via: [...this.stack],
    };
  }

  chain(table: TableName, name: string, depth: number): ChainEnd {
    const chain = this.tables.get(table)?.get(name);
    if (!chain) {
      this.notes.push(`${table} ${name} does not exist: the jump to it is taken as a no-op`);
      return { kind: 'continue' };
    }
    for (const rule of chain.rules) {
      const results = rule.matches.map((m) => evaluateMatch(m, this.packet));
      const matched = results.every((r) => r.matched);
      const notes = results.flatMap((r) => (r.note ? [r.note] : []));
      const step: PathStep = {
        table,
        chain: name,
        rule: rule.text,
        matched,
        ...(rule.origin ? { origin: rule.origin } : {}),
        ...(notes.length > 0 ? { notes } : {}),
      };
      this.path.push(step);
      for (const note of notes) if (!this.notes.includes(note)) this.notes.push(note);
      if (!matched) continue;
      const end = this.target(rule, step, depth);
      if (end) return end;
    }
    return { kind: 'continue' };
  }

  /** Applies a matched rule's target; returns how the chain ends, or undefined to go on. */
  private target(rule: KernelRule, step: PathStep, depth: number): ChainEnd | undefined {
    const target = rule.target;
    const p = this.packet;
    switch (target.kind) {
      case 'jump': {
        if (depth >= MAX_DEPTH) {
          this.notes.push(`jumps nest deeper than ${MAX_DEPTH}: the walk stops there`);
          return { kind: 'continue' };
        }
        this.stack.push(step);
        const end = this.chain(rule.table, target.chain, depth + 1);
        this.stack.pop();
        // `-g`: when the chain gone to returns, this chain is done too.
        return end.kind === 'verdict' || target.goto ? end : undefined;
      }
      case 'return':
        this.lastPass = this.decision(rule);
        return { kind: 'continue' };
      case 'accept':
      case 'drop':
      case 'reject':
        if (target.kind === 'accept') this.lastPass = this.decision(rule);
        else this.dropped = this.decision(rule);
        return { kind: 'verdict', rule, target };
      case 'redirect': {
        if (this.capture?.outcome === 'tproxy')
          this.notes.push(
            `nat REDIRECTs it to port ${target.toPort} too, but the socket TPROXY assigned in mangle receives it`,
          );
        this.capture ??= { decision: this.decision(rule), outcome: 'redirect', toPort: target.toPort };
        // Locally sent packets go to the loopback address; arriving ones keep the address they came to.
        if (p.connection.direction === 'outbound') {
          const loopback = parseIpAddress(LOOPBACK[p.connection.family], { canonical: true });
          if (typeof loopback !== 'string') p.destination = loopback;
        }
        p.destinationPort = target.toPort;
        return { kind: 'verdict', rule, target };
      }
      case 'tproxy': {
        const mask = target.mask ?? 0xffffffff;
        p.mark = ((p.mark & ~mask) ^ target.mark) >>> 0;
        this.capture ??= { decision: this.decision(rule), outcome: 'tproxy', toPort: target.onPort };
        return { kind: 'verdict', rule, target };
      }
      case 'setMark': {
        const mask = target.mask ?? 0xffffffff;
        p.mark = ((p.mark & ~mask) ^ target.mark) >>> 0;
        return undefined;
      }
      case 'connmark':
        if (target.action === 'save') p.connmark = p.mark;
        else p.mark = p.connmark;
        return undefined;
      case 'ct':
        // The first CT target wins: xt_CT leaves a packet that already has a conntrack
        // template alone ("previously seen", net/netfilter/xt_CT.c).
        if (!p.ctAttached) p.zone = target.zone;
        p.ctAttached = true;
        return undefined;
      case 'none':
      case 'nflog':
        return undefined;
      case 'unknown':
        this.notes.push(`target \`${target.text}\` is not modelled: the walk goes on past it`);
        return undefined;
      default: {
        const never: never = target;
        return never;
      }
    }
  }
}

/**
 * Walks one connection's first packet through one family's tables. `state` is conntrack's
 * view of the packet (NEW for a first packet; tests vary it).
 */
export function walk(tables: KernelTables, connection: Connection, routing?: Routing, state: ConnState = 'NEW'): Walk {
  const w = new Walker(tables, firstPacket(connection, state));
  let dropped: Decision | undefined;
  let fallback: Decision | undefined;
  for (const hook of HOOKS[connection.direction]) {
    for (const table of hook.tables) {
      const chain = tables.get(table)?.get(hook.name);
      if (!chain) {
        if (table === 'nat' && !fallback) fallback = policyDecision(table, hook.name, 'ACCEPT');
        continue;
      }
      const end = w.chain(table, hook.name, 0);
      if (end.kind === 'verdict') {
        if (end.target.kind === 'drop' || end.target.kind === 'reject') {
          dropped = w.dropped;
          break;
        }
        continue;
      }
      const policy = chain.policy ?? 'ACCEPT';
      w.path.push({ table, chain: hook.name, rule: `-P ${hook.name} ${policy}`, matched: true });
      if (table === 'nat' && !fallback) fallback = policyDecision(table, hook.name, policy);
      if (policy === 'DROP') {
        dropped = policyDecision(table, hook.name, policy);
        break;
      }
    }
    if (dropped) break;
    if (hook.name === 'PREROUTING' && w.capture?.outcome === 'tproxy') routeByMark(w, routing);
  }
  return walkResult(
    connection,
    w,
    dropped,
    fallback ?? policyDecision('nat', HOOKS[connection.direction][0]?.name ?? 'OUTPUT', 'ACCEPT'),
  );
}

function policyDecision(table: TableName, chain: string, policy: string): Decision {
  return { table, chain, rule: `-P ${chain} ${policy}`, via: [], policy: true };
}

function routeByMark(w: Walker, routing: Routing | undefined): void {
  w.notes.push(routingNote(w.packet.mark, routing));
}

/**
 * TPROXY leaves the destination alone: only a policy route for its mark delivers the packet
 * locally. What is known of that route, as a note (both walkers).
 */
export function routingNote(mark: number, routing: Routing | undefined): string {
  const hex = `0x${mark.toString(16)}`;
  if (!routing)
    return `assumed: an \`ip rule fwmark ${hex}\` sends marked packets to a table that delivers them locally`;
  const rule = routing.fwmarks.find((r) => (mark & r.mask) >>> 0 === (r.mark & r.mask) >>> 0);
  return rule
    ? `routing: mark ${hex} matches \`ip rule fwmark ${hex} lookup ${rule.table}\`, whose local route delivers it to the proxy`
    : `routing: no ip rule matches mark ${hex}: the packet is routed by its destination (local delivery only if the address is the pod's)`;
}
