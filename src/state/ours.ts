/**
 * Which rules in built-in chains are ours: the one definition, by shape. A run deletes the
 * rules of ours it does not plan (reconcile, --cleanup-only) and leaves every other rule where
 * it is, so "ours" must cover every rule any configuration of this tool, or of upstream
 * (Istio 1.20 to today), writes into a built-in chain — whatever mark, interface, owner or
 * loopback range that configuration used — and nothing else. A shape is exact: the table and
 * chain, each match (kind and values, in any order, none more) and the target. The shapes are
 * read from parsed rules (rule-parser.ts), never from rule text.
 */
import { type BuiltinChain, isBuiltinChain, isOwnedChain } from '../model/chains.js';
import type { KernelMatch, KernelTarget } from '../model/kernel-rule.js';
import type { TableName } from '../model/netfilter.js';
import type { Cidr } from '../model/network.js';
import { TRACE_NFLOG } from '../plan/trace.js';
import { parseRuleSpec } from './rule-parser.js';
import type { LiveRule, NetfilterState } from './save-parser.js';

type MatchOf<K extends KernelMatch['kind']> = Extract<KernelMatch, { kind: K }>;
/** One match a shape needs: its kind and what its values must be. */
type Need = {
  [K in KernelMatch['kind']]: { readonly kind: K; readonly test: (m: MatchOf<K>) => boolean };
}[KernelMatch['kind']];

interface Shape {
  /** What writes it, for the reader (and the tests' names). */
  readonly what: string;
  readonly tables: readonly TableName[];
  readonly chains: readonly BuiltinChain[];
  readonly matches: readonly Need[];
  readonly target: (target: KernelTarget) => boolean;
}

/** TPROXY's outbound mark for the proxy's own loopback traffic (upstream's constant). */
const OUTBOUND_MARK = 1338;
/** The agent's DNS port. */
const AGENT_DNS_PORT = 15053;

const fullMask = (mask: number | undefined) => mask === undefined || mask === 0xffffffff;
const need = <K extends KernelMatch['kind']>(kind: K, test: (m: MatchOf<K>) => boolean) => ({ kind, test }) as Need;

const protocol = (name: 'tcp' | 'udp') => need('protocol', (m) => m.protocol === name && !m.negated);
const anyMark = need('mark', (m) => !m.negated && fullMask(m.mask));
const anyConnmark = need('connmark', (m) => !m.negated && fullMask(m.mask));
const outLo = need('outInterface', (m) => m.name === 'lo' && !m.negated);
const anyIn = need('inInterface', (m) => !m.negated);
const anyOut = need('outInterface', (m) => !m.negated);
const anyOwner = need('owner', (m) => !m.negated);
const dport = (port: number) =>
  need('destinationPort', (m) => !m.negated && m.port.first === port && m.port.last === port);
const sport = (port: number) => need('sourcePort', (m) => !m.negated && m.port.first === port && m.port.last === port);
const isHost = (cidr: Cidr) => cidr.prefixLength === (cidr.family === 'ipv4' ? 32 : 128);
const hostDestination = need('destination', (m) => !m.negated && isHost(m.cidr));
const hostSource = need('source', (m) => !m.negated && isHost(m.cidr));
const anyDestination = need('destination', (m) => !m.negated);
/** `! -d LOOP`: IPv4 loopback (the host loopback CIDR, inside 127.0.0.0/8) or `::1/128`. */
const notLoopback = need(
  'destination',
  (m) =>
    m.negated === true &&
    (m.cidr.family === 'ipv4'
      ? m.cidr.address.value >> 24n === 127n && m.cidr.prefixLength >= 8
      : m.cidr.address.value === 1n && m.cidr.prefixLength === 128),
);
const conntrackInvalid = need('conntrack', (m) => !m.negated && m.states.length === 1 && m.states[0] === 'INVALID');

const is =
  <K extends KernelTarget['kind']>(kind: K, test: (t: Extract<KernelTarget, { kind: K }>) => boolean = () => true) =>
  (target: KernelTarget) =>
    target.kind === kind && test(target as Extract<KernelTarget, { kind: K }>);
const RETURN = is('return');
const zone = (n: number) => is('ct', (t) => t.zone === n);
const nflog = (prefix: string) =>
  is('nflog', (t) => t.prefix === prefix && t.group === TRACE_NFLOG.group && t.size === TRACE_NFLOG.size);

/** Every shape of ours, apart from jumps into our chains (which are ours whatever they match). */
const SHAPES: readonly Shape[] = [
  // TPROXY (mark M): connection marks, the proxy's loopback traffic (mark 1338).
  shape(
    'TPROXY CONNMARK save',
    ['mangle'],
    ['PREROUTING'],
    [protocol('tcp'), anyMark],
    is('connmark', (t) => t.action === 'save'),
  ),
  shape(
    'TPROXY CONNMARK restore',
    ['mangle'],
    ['OUTPUT'],
    [protocol('tcp'), anyConnmark],
    is('connmark', (t) => t.action === 'restore'),
  ),
  shape('TPROXY marked loopback RETURN', ['mangle'], ['OUTPUT'], [protocol('tcp'), outLo, anyMark], RETURN),
  shape(
    "TPROXY proxy's loopback mark",
    ['mangle'],
    ['OUTPUT'],
    [notLoopback, protocol('tcp'), outLo, anyOwner],
    is('setMark', (t) => t.mark === OUTBOUND_MARK && fullMask(t.mask)),
  ),
  // -c NIC (nat; mangle too in TPROXY mode) and -k NIC (nat).
  shape('excluded or KubeVirt interface', ['nat', 'mangle'], ['PREROUTING'], [anyIn], RETURN),
  shape('excluded interface', ['nat', 'mangle'], ['OUTPUT'], [anyOut], RETURN),
  // Istio 1.20: --drop-invalid without ISTIO_DROP, DNS without ISTIO_OUTPUT_DNS.
  shape('drop-invalid (Istio 1.20)', ['mangle'], ['PREROUTING'], [conntrackInvalid], is('drop')),
  shape('DNS zone 1, proxy (Istio 1.20)', ['raw'], ['OUTPUT'], [protocol('udp'), dport(53), anyOwner], zone(1)),
  shape(
    'DNS zone 2, agent (Istio 1.20)',
    ['raw'],
    ['OUTPUT'],
    [protocol('udp'), sport(AGENT_DNS_PORT), anyOwner],
    zone(2),
  ),
  shape('DNS zone 2, all (Istio 1.20)', ['raw'], ['OUTPUT'], [protocol('udp'), dport(53)], zone(2)),
  shape('DNS zone 2, server (Istio 1.20)', ['raw'], ['OUTPUT'], [protocol('udp'), dport(53), hostDestination], zone(2)),
  shape('DNS zone 1, all (Istio 1.20)', ['raw'], ['PREROUTING'], [protocol('udp'), sport(53)], zone(1)),
  shape('DNS zone 1, server (Istio 1.20)', ['raw'], ['PREROUTING'], [protocol('udp'), sport(53), hostSource], zone(1)),
  shape('DNS proxy RETURN (Istio 1.20)', ['nat'], ['OUTPUT'], [protocol('udp'), dport(53), anyOwner], RETURN),
  shape(
    'DNS redirect (Istio 1.20)',
    ['nat'],
    ['OUTPUT'],
    [protocol('udp'), dport(53), hostDestination],
    is('redirect', (t) => t.toPort === AGENT_DNS_PORT),
  ),
  // --iptables-trace-logging: an NFLOG twin with the matches of the rule it logs.
  shape('trace JumpInbound', ['nat', 'mangle'], ['PREROUTING'], [], nflog('JumpInbound')),
  shape('trace JumpInbound', ['nat', 'mangle'], ['PREROUTING'], [protocol('tcp')], nflog('JumpInbound')),
  // Also the raw table's, before the jump into ISTIO_OUTPUT_DNS.
  shape('trace JumpOutbound', ['nat', 'raw'], ['OUTPUT'], [], nflog('JumpOutbound')),
  shape('trace JumpOutbound', ['nat'], ['OUTPUT'], [protocol('tcp')], nflog('JumpOutbound')),
  shape('trace KubevirtCommand', ['nat'], ['PREROUTING'], [anyIn], nflog('KubevirtCommand')),
  shape('trace KubevirtCommand', ['nat'], ['PREROUTING'], [anyIn, anyDestination], nflog('KubevirtCommand')),
  shape('trace ExcludeInterfaceCommand', ['nat', 'mangle'], ['PREROUTING'], [anyIn], nflog('ExcludeInterfaceCommand')),
  shape('trace ExcludeInterfaceCommand', ['nat', 'mangle'], ['OUTPUT'], [anyOut], nflog('ExcludeInterfaceCommand')),
];

function shape(
  what: string,
  tables: readonly TableName[],
  chains: readonly BuiltinChain[],
  matches: readonly Need[],
  target: (target: KernelTarget) => boolean,
): Shape {
  return { what, tables, chains, matches, target };
}

/** Each need met by its own match, and no match left over. */
function fits(matches: readonly KernelMatch[], needs: readonly Need[]): boolean {
  if (matches.length !== needs.length) return false;
  const left = [...matches];
  for (const want of needs) {
    const at = left.findIndex((m) => m.kind === want.kind && (want.test as (m: KernelMatch) => boolean)(m));
    if (at < 0) return false;
    left.splice(at, 1);
  }
  return true;
}

const NO_CHAINS: ReadonlySet<string> = new Set();

/** The shape a rule of a built-in chain has, if it is ours; undefined for a foreign rule. */
export function ourShape(table: TableName, chain: string, rule: LiveRule): string | undefined {
  if (!isBuiltinChain(chain)) return undefined;
  if (rule.jumpsTo !== undefined && isOwnedChain(rule.jumpsTo)) return `jump to ${rule.jumpsTo}`;
  const parsed = parseRuleSpec(rule.spec, NO_CHAINS);
  return SHAPES.find(
    (s) =>
      s.tables.includes(table) &&
      s.chains.includes(chain) &&
      s.target(parsed.target) &&
      fits(parsed.matches, s.matches),
  )?.what;
}

/** True for a rule of a built-in chain that this tool (or upstream) writes, in any configuration. */
export function isOurBuiltinRule(table: TableName, chain: string, rule: LiveRule): boolean {
  return ourShape(table, chain, rule) !== undefined;
}

/**
 * The TPROXY marks live rules of ours use: the CONNMARK rules' marks in mangle's built-in chains,
 * ISTIO_DIVERT's MARK and ISTIO_TPROXY's `--tproxy-mark`. An earlier TPROXY run's policy rule
 * (`fwmark M lookup T`) is recognised by them.
 */
export function liveTproxyMarks(live: NetfilterState): number[] {
  const marks = new Set<number>();
  for (const [chain, rules] of live.get('mangle') ?? []) {
    for (const rule of rules) {
      const { matches, target } = parseRuleSpec(rule.spec, NO_CHAINS);
      if (isBuiltinChain(chain) && target.kind === 'connmark' && isOurBuiltinRule('mangle', chain, rule)) {
        for (const m of matches) if (m.kind === 'mark' || m.kind === 'connmark') marks.add(m.mark);
      } else if (chain === 'ISTIO_DIVERT' && target.kind === 'setMark' && fullMask(target.mask)) marks.add(target.mark);
      else if (chain === 'ISTIO_TPROXY' && target.kind === 'tproxy' && fullMask(target.mask)) marks.add(target.mark);
    }
  }
  return [...marks].sort((a, b) => a - b);
}
