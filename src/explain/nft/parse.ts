/**
 * nft rule text → the expressions `explain` evaluates (expressions.ts). Whatever is not
 * understood becomes an unknown match (or, for statements known to let the packet go on, an
 * unknown statement) holding its text up to the next expression that is understood: never
 * dropped silently. See nft(8) for the grammar.
 *
 * (Longer than ~200 lines: one recursive-descent reader per keyword family, read best together.)
 */
import { ipv6Value } from '../../model/network.js';
import type { Interval, NftEffect, NftItem, NftTest, NftVerdict } from './expressions.js';

/** A word, a quoted string (without its quotes) or a set's elements. */
type Token =
  | { readonly kind: 'word'; readonly text: string }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'set'; readonly items: readonly string[]; readonly text: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      const stop = end < 0 ? text.length : end;
      tokens.push({ kind: 'string', text: text.slice(i + 1, stop) });
      i = stop + 1;
    } else if (c === '{') {
      const end = text.indexOf('}', i);
      const stop = end < 0 ? text.length : end;
      const body = text.slice(i + 1, stop);
      const items = body
        .split(',')
        .map((item) => item.trim().replace(/^"(.*)"$/, '$1'))
        .filter((item) => item !== '');
      tokens.push({ kind: 'set', items, text: text.slice(i, stop + 1) });
      i = stop + 1;
    } else {
      let j = i;
      while (j < text.length && !/\s/.test(text[j] ?? '') && text[j] !== '{' && text[j] !== '"') j++;
      tokens.push({ kind: 'word', text: text.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

const tokenText = (t: Token) => (t.kind === 'string' ? `"${t.text}"` : t.text);

/** Keywords that start an expression this reader knows; an unknown run of words ends at one. */
const STARTS = new Set(
  (
    'meta iifname oifname iif oif mark skuid skgid nftrace ip ip6 tcp udp th ct counter redirect tproxy ' +
    'accept drop reject return continue jump goto comment log dnat snat masquerade notrack queue limit xt'
  ).split(' '),
);

/** Statements that, not modelled, still let the packet go on (they do not decide its fate here). */
const PASSING = new Set(['log', 'snat', 'masquerade', 'notrack', 'limit']);

const NUMBER = /^(0x[0-9a-fA-F]+|[0-9]+)$/;
const num = (text: string) => Number(text);

/** `53`, `1000-2000` → an interval, or undefined. */
function numberRange(text: string): Interval<number> | undefined {
  const m = /^(0x[0-9a-fA-F]+|[0-9]+)(?:-(0x[0-9a-fA-F]+|[0-9]+))?$/.exec(text);
  if (!m) return undefined;
  return { first: num(m[1] ?? ''), last: num(m[2] ?? m[1] ?? '') };
}

function addressValue(family: 'ipv4' | 'ipv6', text: string): bigint | undefined {
  if (family === 'ipv6') return ipv6Value(text);
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^[0-9]{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n);
}

/** `10.0.0.0/8`, `::1`, `10.0.0.1-10.0.0.9` → an interval of address values. */
function addressRange(family: 'ipv4' | 'ipv6', text: string): Interval<bigint> | undefined {
  const bits = family === 'ipv4' ? 32n : 128n;
  const slash = /^([^/]+)\/([0-9]+)$/.exec(text);
  if (slash) {
    const base = addressValue(family, slash[1] ?? '');
    const length = BigInt(slash[2] ?? '');
    if (base === undefined || length > bits) return undefined;
    const host = bits - length;
    const first = (base >> host) << host;
    return { first, last: first + (1n << host) - 1n };
  }
  // A range `a-b`; IPv6 addresses hold no `-`, so the split is safe.
  const [a = '', b, extra] = text.split('-');
  if (extra !== undefined) return undefined;
  const first = addressValue(family, a);
  const last = b === undefined ? first : addressValue(family, b);
  return first === undefined || last === undefined ? undefined : { first, last };
}

/** Reads one rule's text into its expressions. */
export function parseNftRule(text: string): NftItem[] {
  return new Reader(tokenize(text)).items();
}

class Reader {
  private i = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }
  private word(offset = 0): string | undefined {
    const t = this.peek(offset);
    return t?.kind === 'word' ? t.text : undefined;
  }

  items(): NftItem[] {
    const out: NftItem[] = [];
    while (this.i < this.tokens.length) {
      const start = this.i;
      const item = this.item();
      if (item) {
        out.push(item);
        continue;
      }
      // Not understood: everything up to the next known expression, as one unknown item.
      this.i = start + 1;
      while (this.i < this.tokens.length && !STARTS.has(this.word() ?? '')) this.i++;
      const words = this.tokens.slice(start, this.i).map(tokenText).join(' ');
      const first = this.tokens[start];
      out.push(
        first?.kind === 'word' && PASSING.has(first.text)
          ? { kind: 'unknownStatement', text: words }
          : { kind: 'unknownMatch', text: words },
      );
    }
    return out;
  }

  /** The text of the tokens read since `start`. */
  private since(start: number): string {
    return this.tokens.slice(start, this.i).map(tokenText).join(' ');
  }

  /** An optional `!=` or `==`; true when negated. */
  private operator(): boolean {
    const w = this.word();
    if (w === '!=' || w === '==') this.i++;
    return w === '!=';
  }

  /** The value or set after an operator, as element texts. */
  private values(): string[] | undefined {
    const t = this.peek();
    if (!t) return undefined;
    this.i++;
    return t.kind === 'set' ? [...t.items] : [t.text];
  }

  private match(start: number, read: () => NftTest | undefined): NftItem | undefined {
    const negated = this.operator();
    const test = read();
    return test ? { kind: 'match', test, negated, text: this.since(start) } : undefined;
  }

  private statement(start: number, effect: NftEffect): NftItem {
    return { kind: 'statement', effect, text: this.since(start) };
  }

  private verdict(start: number, verdict: NftVerdict): NftItem {
    return { kind: 'verdict', verdict, text: this.since(start) };
  }

  private item(): NftItem | undefined {
    const start = this.i;
    const w = this.word();
    if (w === undefined) return undefined;
    this.i++;
    switch (w) {
      case 'meta':
        return this.meta(start, this.word() ?? '');
      case 'iifname':
      case 'oifname':
      case 'iif':
      case 'oif':
      case 'mark':
      case 'skuid':
      case 'skgid':
      case 'nftrace':
        this.i--;
        return this.meta(start, w);
      case 'ip':
      case 'ip6':
        return this.ip(start, w === 'ip' ? 'ipv4' : 'ipv6');
      case 'tcp':
      case 'udp':
      case 'th':
        return this.port(start, w);
      case 'ct':
        return this.ct(start);
      case 'counter':
        // `counter packets N bytes M`, as nft lists it.
        if (this.word() === 'packets' && this.word(2) === 'bytes') this.i += 4;
        return this.statement(start, { kind: 'none' });
      case 'comment':
        this.i++;
        return this.statement(start, { kind: 'none' });
      case 'redirect':
        return this.redirect(start);
      case 'tproxy':
        return this.tproxy(start);
      case 'accept':
      case 'drop':
      case 'return':
      case 'continue':
        return this.verdict(start, { kind: w });
      case 'reject':
        // `reject with tcp reset` and the like: its details do not matter to the walk.
        // A verdict ends the rule: whatever follows is its `with …` detail.
        this.i = this.tokens.length;
        return this.verdict(start, { kind: 'reject' });
      case 'xt': {
        // iptables-nft's compat expressions (`xt match "owner"`, `xt target TPROXY`): nft lists
        // them without their options, so they cannot be evaluated; a target at least lets the walk go on.
        const what = this.word();
        const name = this.peek(1);
        if ((what !== 'match' && what !== 'target') || !name) return undefined;
        this.i += 2;
        const text = this.since(start);
        return what === 'target' ? { kind: 'unknownStatement', text } : { kind: 'unknownMatch', text };
      }
      case 'jump':
      case 'goto': {
        const chain = this.peek();
        if (!chain || chain.kind === 'set') return undefined;
        this.i++;
        return this.verdict(start, { kind: w, chain: chain.text });
      }
      default:
        return undefined;
    }
  }

  /** `meta KEY …` (or a key nft lets stand without `meta`); `this.i` is at the key. */
  private meta(start: number, key: string): NftItem | undefined {
    this.i++;
    if (this.word() === 'set') {
      this.i++;
      const value = this.peek();
      if (key === 'mark' && this.word() === 'ct' && this.word(1) === 'mark') {
        this.i += 2;
        return this.statement(start, { kind: 'restoreMark' });
      }
      if (value?.kind !== 'word') return undefined;
      this.i++;
      if (key === 'mark' && NUMBER.test(value.text))
        return this.statement(start, { kind: 'setMark', mark: num(value.text) });
      if (key === 'nftrace') return this.statement(start, { kind: 'none' });
      return undefined;
    }
    switch (key) {
      case 'iifname':
      case 'oifname':
      case 'iif':
      case 'oif': {
        const direction = key.startsWith('i') ? 'in' : 'out';
        return this.match(start, () => {
          const names = this.values();
          return names ? { kind: 'interface', direction, names } : undefined;
        });
      }
      case 'l4proto':
        return this.match(start, () => {
          const protocols = this.values();
          return protocols ? { kind: 'l4proto', protocols } : undefined;
        });
      case 'nfproto':
        return this.match(start, () => {
          const family = this.values()?.[0];
          return family === 'ipv4' || family === 'ipv6' ? { kind: 'nfproto', family } : undefined;
        });
      case 'mark':
        return this.mark(start, 'packet');
      case 'skuid':
      case 'skgid':
        return this.match(start, () => this.owner(key === 'skuid' ? 'uid' : 'gid'));
      default:
        // Other meta keys (pkttype, cgroup, …) are not modelled: the caller reads them as unknown.
        return undefined;
    }
  }

  private owner(owner: 'uid' | 'gid'): NftTest | undefined {
    const t = this.peek();
    const values = this.values();
    if (!values) return undefined;
    const ranges = values.map(numberRange);
    if (ranges.every((r): r is Interval<number> => r !== undefined)) return { kind: 'owner', owner, ranges };
    if (values.length === 1 && (t?.kind === 'string' || /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(values[0] ?? '')))
      return { kind: 'owner', owner, ranges: [], name: values[0] ?? '' };
    return undefined;
  }

  /** `[meta] mark [& MASK] [op] VALUE` or `ct mark …`; `this.i` is after `mark`. */
  private mark(start: number, of: 'packet' | 'conntrack'): NftItem | undefined {
    let mask: number | undefined;
    if (this.word() === '&' && NUMBER.test(this.word(1) ?? '')) {
      mask = num(this.word(1) ?? '');
      this.i += 2;
    }
    return this.match(start, () => {
      const values = this.values();
      if (!values?.every((v) => NUMBER.test(v))) return undefined;
      return { kind: 'mark', of, ...(mask !== undefined ? { mask } : {}), values: values.map(num) };
    });
  }

  private ip(start: number, family: 'ipv4' | 'ipv6'): NftItem | undefined {
    const field = this.word();
    if (field === 'protocol' || field === 'nexthdr') {
      this.i++;
      return this.match(start, () => {
        const protocols = this.values();
        return protocols ? { kind: 'l4proto', protocols, family } : undefined;
      });
    }
    if (field !== 'saddr' && field !== 'daddr') return undefined;
    this.i++;
    return this.match(start, () => {
      const ranges = this.values()?.map((v) => addressRange(family, v));
      if (!ranges?.every((r): r is Interval<bigint> => r !== undefined)) return undefined;
      return { kind: 'address', family, field, ranges };
    });
  }

  private port(start: number, protocol: 'tcp' | 'udp' | 'th'): NftItem | undefined {
    const field = this.word();
    if (field !== 'sport' && field !== 'dport') return undefined;
    this.i++;
    return this.match(start, () => {
      const ranges = this.values()?.map(numberRange);
      if (!ranges?.every((r): r is Interval<number> => r !== undefined)) return undefined;
      return { kind: 'port', protocol, field, ranges };
    });
  }

  private ct(start: number): NftItem | undefined {
    const key = this.word();
    this.i++;
    if (this.word() === 'set') {
      this.i++;
      if (key === 'mark' && (this.word() === 'mark' || (this.word() === 'meta' && this.word(1) === 'mark'))) {
        this.i += this.word() === 'meta' ? 2 : 1;
        return this.statement(start, { kind: 'saveMark' });
      }
      const value = this.word();
      if (value === undefined || !NUMBER.test(value)) return undefined;
      this.i++;
      if (key === 'mark') return this.statement(start, { kind: 'setCtMark', mark: num(value) });
      if (key === 'zone') return this.statement(start, { kind: 'ctZone', zone: num(value) });
      return undefined;
    }
    switch (key) {
      case 'state':
        return this.match(start, () => {
          const states = this.values()?.flatMap((v) => v.split(','));
          return states ? { kind: 'ctState', states } : undefined;
        });
      case 'mark':
        return this.mark(start, 'conntrack');
      case 'zone':
        return this.match(start, () => {
          const zones = this.values();
          return zones?.every((z) => NUMBER.test(z)) ? { kind: 'ctZone', zones: zones.map(num) } : undefined;
        });
      default:
        return undefined;
    }
  }

  /** `:15001` or `15001` (older nft lists `redirect to 15001`). */
  private toPort(): number | undefined {
    if (this.word() !== 'to') return undefined;
    const m = /^(?:.*:)?([0-9]+)$/.exec(this.word(1) ?? '');
    if (!m) return undefined;
    this.i += 2;
    return Number(m[1]);
  }

  private redirect(start: number): NftItem | undefined {
    const toPort = this.toPort();
    return toPort === undefined ? undefined : this.statement(start, { kind: 'redirect', toPort });
  }

  private tproxy(start: number): NftItem | undefined {
    const w = this.word();
    const family = w === 'ip' ? 'ipv4' : w === 'ip6' ? 'ipv6' : undefined;
    if (family) this.i++;
    const toPort = this.toPort();
    if (toPort === undefined) return undefined;
    return this.statement(start, { kind: 'tproxy', ...(family ? { family } : {}), toPort });
  }
}
