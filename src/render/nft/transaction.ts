/**
 * The only place nftables syntax is spelled: typed operations → the text `nft -f -` reads,
 * one operation per line, byte for byte as upstream (knftables) writes it. See nft(8).
 */
import type { NftAction, NftChain, NftMatch, NftOperation, NftRule, NftTransaction } from '../../model/nftables.js';
import { NFT_FAMILY, type NftTableName } from '../../model/nftables.js';
import type { PortRange } from '../../model/network.js';

/**
 * A word nft's scanner reads as a string without quotes (a trailing `*` is its wildcard).
 * Anything else is quoted; the configuration refuses quotes, backslashes, whitespace and
 * control characters in names, so a quoted value cannot end early or run into the next line.
 */
const BARE = /^[A-Za-z_.][A-Za-z0-9_./-]*\*?$/;

/**
 * A user-given name (interface, user, group) as an nft string. Upstream copies list items as
 * written, spaces included, which nft skips between words: kept as is where nft reads the word
 * bare (upstream's bytes), else the word, without its padding, is quoted.
 */
export function nftString(value: string): string {
  return BARE.test(value.trim()) ? value : `"${value.trim()}"`;
}

/**
 * A UID, GID or group: a number as written (padding included, as upstream copies it); a range
 * in nft's `first-last` form (iptables' owner match also takes `first:last`, which nft refuses);
 * a name through nftString.
 */
export function ownerText(id: string): string {
  if (/^ *[0-9]+ *$/.test(id)) return id;
  const range = /^ *([0-9]+)[-:]([0-9]+) *$/.exec(id);
  return range ? `${range[1]}-${range[2]}` : nftString(id);
}

const not = (negated: true | undefined) => (negated ? '!= ' : '');
/** A port as written when nft reads it so (digits, maybe padded: upstream's bytes), else `first-last`. */
const portText = (p: PortRange) =>
  p.text !== undefined && /^ *[0-9]+ *$/.test(p.text)
    ? p.text
    : p.first === p.last
      ? String(p.first)
      : `${p.first}-${p.last}`;
const set = (items: readonly string[]) => `{ ${items.join(', ')} }`;

export function matchText(match: NftMatch): string {
  switch (match.kind) {
    case 'iifname':
    case 'oifname':
      return `${match.kind} ${nftString(match.name)}`;
    case 'l4proto':
      return `meta l4proto ${match.protocol}`;
    case 'nfproto':
      return `meta nfproto ${match.family}`;
    case 'address': {
      const value = match.values.length === 1 ? (match.values[0] ?? '') : set(match.values);
      return `${match.family} ${match.field} ${not(match.negated)}${value}`;
    }
    case 'port': {
      const items = match.ports.map(portText);
      const value = match.set || items.length !== 1 ? set(items) : (items[0] ?? '');
      return `${match.protocol} ${match.field} ${not(match.negated)}${value}`;
    }
    case 'owner':
      return `${match.meta ? 'meta ' : ''}sk${match.owner} ${not(match.negated)}${ownerText(match.id)}`;
    case 'mark':
      return `mark ${not(match.negated)}${match.mark}`;
    case 'ctMark':
      return `ct mark ${match.mark}`;
    case 'ctState':
      return `ct state ${match.states.join(',')}`;
    default: {
      const never: never = match;
      return never;
    }
  }
}

/** The action, with the `counter` every rule carries where upstream puts it. */
export function actionText(action: NftAction): string {
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
      // The only rule whose counter is not right before its statement.
      return `tproxy ${action.family} to :${action.toPort} meta mark set ${action.mark} counter accept`;
    case 'setMark':
      return `counter meta mark set ${action.mark}`;
    case 'saveMark':
      return 'counter ct mark set mark';
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

/** A rule's text after the chain name. */
export function ruleText(rule: NftRule): string {
  return [...rule.matches.map(matchText), actionText(rule.action)].join(' ');
}

function chainText(chain: NftChain): string {
  if (!chain.base) return chain.name;
  const { type, hook, priority } = chain.base;
  return `${chain.name} { type ${type} hook ${hook} priority ${priority} ; }`;
}

export function operationText(op: NftOperation): string {
  const where = `${NFT_FAMILY} ${op.table}`;
  switch (op.object) {
    case 'table':
      return `${op.verb} table ${where}`;
    case 'chain':
      return op.verb === 'add' ? `add chain ${where} ${chainText(op.chain)}` : `delete chain ${where} ${op.chain}`;
    case 'rule':
      return op.verb === 'add'
        ? `add rule ${where} ${op.chain} ${ruleText(op.rule)}`
        : `insert rule ${where} ${op.chain} index ${op.index} ${ruleText(op.rule)}`;
    default: {
      const never: never = op;
      return never;
    }
  }
}

/** The stdin of `nft -f -`: one line per operation, each ending in a newline. */
export function renderTransaction(transaction: NftTransaction): string {
  return transaction.operations.map((op) => `${operationText(op)}\n`).join('');
}

/** Deletes tables whether or not they exist (`add` first, as upstream's cleanup does). */
export function deleteTables(tables: readonly NftTableName[]): string {
  return renderTransaction({
    operations: tables.flatMap((table) => [
      { verb: 'add', object: 'table', table } as const,
      { verb: 'delete', object: 'table', table } as const,
    ]),
  });
}
