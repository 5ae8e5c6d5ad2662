/**
 * The planned tables as `nft list` prints them (spec §14), and a normal form both sides are
 * compared in. nft lists what it stored, not what it was given: `oifname "lo"`, host prefixes
 * without their length and other prefixes masked, `meta skuid`, marks in hex, names of users
 * and groups as numbers, `meta l4proto tcp` dropped where a `tcp` port match implies it,
 * counters with their values, priorities by name.
 */
import type { NftAction, NftMatch, NftRule } from '../../model/nftables.js';
import { cidrOf, ipv6Value, parseIpAddress } from '../../model/network.js';

/** Numeric ids of user and group names, as nft resolves them when it loads the rules. */
export interface OwnerIds {
  readonly users: ReadonlyMap<string, number>;
  readonly groups: ReadonlyMap<string, number>;
}

const hex = (mark: number) => `0x${mark.toString(16).padStart(8, '0')}`;
const not = (negated: true | undefined) => (negated ? '!= ' : '');
const set = (items: readonly string[]) => (items.length === 1 ? (items[0] ?? '') : `{ ${items.join(', ')} }`);

function listedMatch(match: NftMatch, ids: OwnerIds): string {
  switch (match.kind) {
    case 'iifname':
    case 'oifname':
      return `${match.kind} "${match.name.trim()}"`;
    case 'l4proto':
      return `meta l4proto ${match.protocol}`;
    case 'nfproto':
      return `meta nfproto ${match.family}`;
    case 'address':
      return `${match.family} ${match.field} ${not(match.negated)}${set(match.values)}`;
    case 'port': {
      const items = match.ports.map((p) => (p.first === p.last ? String(p.first) : `${p.first}-${p.last}`));
      return `${match.protocol} ${match.field} ${not(match.negated)}${match.set ? `{ ${items.join(', ')} }` : set(items)}`;
    }
    case 'owner': {
      const names = match.owner === 'uid' ? ids.users : ids.groups;
      const id = match.id.trim().replace(':', '-');
      return `meta sk${match.owner} ${not(match.negated)}${names.get(id) ?? id}`;
    }
    case 'mark':
      return `meta mark ${not(match.negated)}${hex(match.mark)}`;
    case 'ctMark':
      return `ct mark ${hex(match.mark)}`;
    case 'ctState':
      return `ct state ${match.states.join(',')}`;
    default: {
      const never: never = match;
      return never;
    }
  }
}

function listedAction(action: NftAction): string {
  switch (action.kind) {
    case 'return':
    case 'accept':
    case 'drop':
      return `counter ${action.kind}`;
    case 'jump':
      return `counter jump ${action.chain}`;
    case 'redirect':
      return `counter redirect to :${action.toPort}`;
    case 'tproxy':
      return `tproxy ${action.family} to :${action.toPort} meta mark set ${hex(action.mark)} counter accept`;
    case 'setMark':
      return `counter meta mark set ${hex(action.mark)}`;
    case 'saveMark':
      return 'counter ct mark set meta mark';
    case 'restoreMark':
      return 'counter meta mark set ct mark';
    case 'ctZone':
      return `counter ct zone set ${action.zone}`;
    default: {
      const never: never = action;
      return never;
    }
  }
}

/** A planned rule as nft lists it (before normalising). */
export function listedRule(rule: NftRule, ids: OwnerIds): string {
  const impliesTcp = (i: number) => rule.matches.slice(i + 1).some((m) => m.kind === 'port' && m.protocol === 'tcp');
  const matches = rule.matches.filter((m, i) => !(m.kind === 'l4proto' && impliesTcp(i)));
  return [...matches.map((m) => listedMatch(m, ids)), listedAction(rule.action)].join(' ');
}

/** An address or prefix token in one spelling: masked, without a host prefix's length. */
function canonicalAddress(token: string): string {
  const [text = '', length] = token.split('/');
  const address = parseIpAddress(text, { canonical: true });
  if (typeof address === 'string') return token;
  const bits = address.family === 'ipv4' ? 32 : 128;
  const prefix = length === undefined ? bits : Number(length);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return token;
  const host = BigInt(bits - prefix);
  const masked = cidrOf(address.family, (address.value >> host) << host, prefix);
  return prefix === bits ? masked.address.text : masked.text;
}

const looksLikeAddress = (token: string) =>
  /^[0-9]+(\.[0-9]+){3}(\/[0-9]+)?$/.test(token) ||
  (/^[0-9a-fA-F:.]+(\/[0-9]+)?$/.test(token) && token.includes('::')) ||
  (token.includes(':') && ipv6Value(token.split('/')[0] ?? '') !== undefined);

/**
 * One spelling for a rule line from either side: counter values dropped, addresses canonical,
 * set elements and conntrack states sorted and without duplicates.
 */
export function normalRule(line: string): string {
  const text = line
    .replace(/ counter packets \d+ bytes \d+/g, ' counter')
    .replace(/^counter packets \d+ bytes \d+/, 'counter');
  const sets = text.replace(/\{ ([^}]*) \}/g, (_all, items: string) => {
    const unique = [
      ...new Set(items.split(', ').map((item) => (looksLikeAddress(item) ? canonicalAddress(item) : item))),
    ];
    return `{ ${unique.sort().join(', ')} }`;
  });
  return sets
    .split(' ')
    .map((token) => (looksLikeAddress(token) ? canonicalAddress(token) : token))
    .join(' ')
    .replace(/ct state (\S+)/, (_all, states: string) => `ct state ${states.split(',').sort().join(',')}`);
}

/** knftables' and nft's priority names for the numbers upstream writes. */
const PRIORITY: Readonly<Record<string, number>> = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
};

/** `type nat hook output priority -100; policy accept;` → `nat output -100 accept`. */
export function normalHook(line: string): string {
  const match = /^type (\S+) hook (\S+) priority ([^;]+);(?: policy (\S+);)?/.exec(line);
  if (!match) return line;
  const [, type, hook, priority = '', policy = 'accept'] = match;
  const value = PRIORITY[priority] ?? Number(priority);
  return `${type} ${hook} ${Number.isNaN(value) ? priority : value} ${policy}`;
}
