/**
 * Walks a connection's first packet through an nftables ruleset in the kernel's order: at each
 * hook (output then postrouting for a packet a process in the pod sends; prerouting, the
 * routing decision TPROXY's mark selects, then input for one arriving), every base chain of
 * the packet's family (`inet`, and `ip` or `ip6`) in priority order — raw −300, mangle −150,
 * dstnat −100, whatever the tables declare. In a base chain `accept` ends that chain only
 * (the next base chain still sees the packet), `drop` ends everything, and falling off or
 * `return` applies the chain's policy. Once a nat chain has NATed the packet (`redirect`),
 * later nat chains of the same hook are skipped, as nf_nat_inet_fn does. The result is the
 * same `Walk` the iptables walker gives, so outcome, text and JSON are shared.
 *
 * (Longer than ~200 lines: the hook order, the chain walk and each statement's effect on the
 * packet are one piece of kernel behaviour, read best together.)
 */
import type { IpFamily } from '../../model/family.js';
import { parseIpAddress } from '../../model/network.js';
import { firstPacket, type Connection, type ConnState, type PacketState } from '../packet.js';
import { routingNote, type Decision, type PathStep, type Routing, type Walk, walkResult } from '../walk.js';
import { evaluateNftMatch } from './evaluate.js';
import type { NftEffect } from './expressions.js';
import type { NftRuleset, NftWalkChain, NftWalkRule, NftWalkTable } from './ruleset.js';

const HOOKS: Readonly<Record<Connection['direction'], readonly string[]>> = {
  outbound: ['output', 'postrouting'],
  inbound: ['prerouting', 'input'],
};

/** The table families whose base chains see a packet of each IP family. */
const TABLE_FAMILIES: Readonly<Record<IpFamily, readonly string[]>> = {
  ipv4: ['inet', 'ip'],
  ipv6: ['inet', 'ip6'],
};

const MAX_DEPTH = 32;
const LOOPBACK = { ipv4: '127.0.0.1', ipv6: '::1' } as const;

/** How a chain's walk ended: it fell off or returned, or a verdict ended the base chain. */
type ChainEnd = { readonly kind: 'return' } | { readonly kind: 'accept' } | { readonly kind: 'drop' };

const tableName = (table: NftWalkTable) => `${table.family} ${table.name}`;

class NftWalker {
  readonly path: PathStep[] = [];
  readonly notes: string[] = [];
  private readonly stack: PathStep[] = [];
  lastPass: Decision | undefined;
  dropped: Decision | undefined;
  capture: { decision: Decision; outcome: 'redirect' | 'tproxy'; toPort: number } | undefined;

  constructor(readonly packet: PacketState) {}

  private note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }

  private decision(table: NftWalkTable, chain: NftWalkChain, rule: NftWalkRule): Decision {
    return {
      table: tableName(table),
      chain: chain.name,
      rule: rule.text,
      position: chain.rules.indexOf(rule) + 1,
      ...(rule.origin ? { origin: rule.origin } : {}),
      via: [...this.stack],
    };
  }

  chain(table: NftWalkTable, chain: NftWalkChain, depth: number): ChainEnd {
    for (const rule of chain.rules) {
      const end = this.rule(table, chain, rule, depth);
      if (end) return end;
    }
    return { kind: 'return' };
  }

  /** Runs one rule's expressions in order; returns how the chain ends, or undefined to go on. */
  private rule(table: NftWalkTable, chain: NftWalkChain, rule: NftWalkRule, depth: number): ChainEnd | undefined {
    const notes: string[] = [];
    let matched = true;
    let end: ChainEnd | undefined;
    let verdict: NftWalkRule['items'][number] | undefined;
    for (const item of rule.items) {
      if (item.kind === 'match' || item.kind === 'unknownMatch') {
        const result = evaluateNftMatch(item, this.packet);
        if (result.note) notes.push(result.note);
        if (!result.matched) {
          matched = false;
          break;
        }
      } else if (item.kind === 'unknownStatement') {
        notes.push(`statement \`${item.text}\` is not modelled: the walk goes on past it`);
      } else if (item.kind === 'statement') {
        const effect = this.effect(item.effect, () => this.decision(table, chain, rule));
        if (effect === 'break') {
          matched = false;
          notes.push(`\`${item.text}\` does not apply to an ${this.packet.connection.family} packet: the rule stops`);
          break;
        }
        if (effect === 'accept') {
          end = { kind: 'accept' };
          break;
        }
      } else {
        verdict = item;
        break;
      }
    }
    const step: PathStep = {
      table: tableName(table),
      chain: chain.name,
      rule: rule.text,
      matched,
      ...(rule.origin ? { origin: rule.origin } : {}),
      ...(notes.length > 0 ? { notes } : {}),
    };
    this.path.push(step);
    for (const note of notes) this.note(note);
    if (!matched) return undefined;
    if (end) return end;
    if (verdict?.kind !== 'verdict') return undefined;
    const v = verdict.verdict;
    switch (v.kind) {
      case 'continue':
        return undefined;
      case 'accept':
        this.lastPass = this.decision(table, chain, rule);
        return { kind: 'accept' };
      case 'drop':
      case 'reject':
        this.dropped = this.decision(table, chain, rule);
        return { kind: 'drop' };
      case 'return':
        this.lastPass = this.decision(table, chain, rule);
        return { kind: 'return' };
      case 'jump':
      case 'goto': {
        const target = table.chains.get(v.chain);
        if (!target) {
          this.note(`${tableName(table)} ${v.chain} does not exist: the ${v.kind} to it is taken as a no-op`);
          return undefined;
        }
        if (depth >= MAX_DEPTH) {
          this.note(`jumps nest deeper than ${MAX_DEPTH}: the walk stops there`);
          return undefined;
        }
        this.stack.push(step);
        const inner = this.chain(table, target, depth + 1);
        this.stack.pop();
        // `goto`: when the chain gone to returns, this chain is done too.
        return inner.kind !== 'return' || v.kind === 'goto' ? inner : undefined;
      }
      default: {
        const never: never = v;
        return never;
      }
    }
  }

  /** Applies a statement; `accept` when it ends the chain (NAT), `break` when it stops the rule. */
  private effect(effect: NftEffect, decision: () => Decision): 'accept' | 'break' | undefined {
    const p = this.packet;
    switch (effect.kind) {
      case 'none':
        return undefined;
      case 'setMark':
        p.mark = effect.mark >>> 0;
        return undefined;
      case 'restoreMark':
        p.mark = p.connmark;
        return undefined;
      case 'saveMark':
        p.connmark = p.mark;
        return undefined;
      case 'setCtMark':
        p.connmark = effect.mark >>> 0;
        return undefined;
      case 'ctZone':
        // The first zone wins: nft_ct_set_zone_eval leaves a packet that already has a conntrack template alone.
        if (!p.ctAttached) p.zone = effect.zone;
        p.ctAttached = true;
        return undefined;
      case 'redirect': {
        if (this.capture?.outcome === 'tproxy')
          this.note(
            `nat redirects it to port ${effect.toPort} too, but the socket tproxy assigned in mangle receives it`,
          );
        this.capture ??= { decision: decision(), outcome: 'redirect', toPort: effect.toPort };
        // Locally sent packets go to the loopback address; arriving ones keep the address they came to.
        if (p.connection.direction === 'outbound') {
          const loopback = parseIpAddress(LOOPBACK[p.connection.family], { canonical: true });
          if (typeof loopback !== 'string') p.destination = loopback;
        }
        p.destinationPort = effect.toPort;
        return 'accept';
      }
      case 'tproxy':
        if (effect.family && effect.family !== p.connection.family) return 'break';
        this.capture ??= { decision: decision(), outcome: 'tproxy', toPort: effect.toPort };
        return undefined;
      default: {
        const never: never = effect;
        return never;
      }
    }
  }
}

function policyDecision(table: NftWalkTable, chain: NftWalkChain): Decision {
  return {
    table: tableName(table),
    chain: chain.name,
    rule: `policy ${chain.base?.policy ?? 'accept'}`,
    via: [],
    policy: true,
  };
}

/** The base chains at a hook that see a packet of the family, in the order the kernel runs them. */
function baseChains(ruleset: NftRuleset, hook: string, family: IpFamily) {
  const found: { table: NftWalkTable; chain: NftWalkChain & { base: NonNullable<NftWalkChain['base']> } }[] = [];
  for (const table of ruleset.tables) {
    if (!TABLE_FAMILIES[family].includes(table.family)) continue;
    for (const chain of table.chains.values())
      if (chain.base?.hook === hook) found.push({ table, chain: { ...chain, base: chain.base } });
  }
  // Stable: at equal priority, listing order (the kernel's is registration order, not listed).
  return found.sort((a, b) => a.chain.base.priority - b.chain.base.priority);
}

/** Walks one connection's first packet through the ruleset; `state` is conntrack's view (NEW unless a test varies it). */
export function walkNft(
  ruleset: NftRuleset,
  connection: Connection,
  routing?: Routing,
  state: ConnState = 'NEW',
): Walk {
  const w = new NftWalker(firstPacket(connection, state));
  let dropped: Decision | undefined;
  let fallback: Decision | undefined;
  let fallbackIsNat = false;
  for (const hook of HOOKS[connection.direction]) {
    let natted = false;
    for (const { table, chain } of baseChains(ruleset, hook, connection.family)) {
      if (chain.base.type === 'nat' && natted) {
        w.notes.push(
          `${tableName(table)} ${chain.name} is skipped: an earlier nat chain of this hook already NATed the packet`,
        );
        continue;
      }
      const before = w.capture;
      const end = w.chain(table, chain, 0);
      if (chain.base.type === 'nat' && w.capture?.outcome === 'redirect' && w.capture !== before) natted = true;
      if (end.kind === 'drop') {
        dropped = w.dropped;
        break;
      }
      if (end.kind === 'accept') continue;
      w.path.push({ table: tableName(table), chain: chain.name, rule: `policy ${chain.base.policy}`, matched: true });
      const policy = policyDecision(table, chain);
      if (chain.base.policy === 'drop') {
        dropped = policy;
        break;
      }
      // What decided when nothing else did: the first nat chain's policy, else the first policy.
      if (!fallback || (chain.base.type === 'nat' && !fallbackIsNat)) {
        fallback = policy;
        fallbackIsNat = chain.base.type === 'nat';
      }
    }
    if (dropped) break;
    if (hook === 'prerouting' && w.capture?.outcome === 'tproxy') w.notes.push(routingNote(w.packet.mark, routing));
  }
  const first = HOOKS[connection.direction][0] ?? 'output';
  return walkResult(
    connection,
    w,
    dropped,
    fallback ?? { table: 'nftables', chain: first, rule: 'no base chain at this hook: accept', via: [], policy: true },
  );
}
