/**
 * iptables-save text → typed rules (`KernelRule`), for `explain --from-save` and live
 * explains. Both backends' spellings are read: the implicit modules iptables-save adds
 * (`-p tcp -m tcp --dport 80`), hex marks with masks (`--mark 0x539/0xffff`), `--set-xmark`,
 * CONNMARK's `--nfmask/--ctmask`, comments, counters (`-c`/`[p:b]`). A match or target this
 * does not know is kept as an `unknown` one with its text, never dropped: the walker then says
 * it could not evaluate it.
 *
 * (Longer than ~200 lines: each module's and target's option spellings are a table that reads
 * best in one place.)
 */
import type { IpFamily } from '../model/family.js';
import type { KernelChain, KernelMatch, KernelRule, KernelTables, KernelTarget } from '../model/kernel-rule.js';
import { TABLES, type TableName } from '../model/netfilter.js';
import { type Cidr, parseCidr, parseIpAddress, type PortRange } from '../model/network.js';
import { parsePortItem } from '../model/ports.js';
import { parseSaveTables } from './save-parser.js';

/** A dump read: its family, its tables, and the lines it could not read at all. */
export interface SavedRules {
  readonly family: IpFamily;
  readonly tables: KernelTables;
  readonly unreadable: readonly string[];
}

/** Generic options (iptables(8)) and the rule fields they fill. */
const GENERIC: Readonly<Record<string, 'protocol' | 'source' | 'destination' | 'inInterface' | 'outInterface'>> = {
  '-p': 'protocol',
  '--protocol': 'protocol',
  '-s': 'source',
  '--source': 'source',
  '-d': 'destination',
  '--destination': 'destination',
  '-i': 'inInterface',
  '--in-interface': 'inInterface',
  '-o': 'outInterface',
  '--out-interface': 'outInterface',
};

/** Starts a new part of a rule: everything a module's options run until. */
const isBoundary = (token: string | undefined) =>
  token === undefined ||
  token === '-m' ||
  token === '--match' ||
  token === '-j' ||
  token === '--jump' ||
  token === '-g' ||
  token === '--goto' ||
  token in GENERIC;

function number(text: string | undefined): number | undefined {
  if (text === undefined || !/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 0xffffffff ? n : undefined;
}

/** `0x539/0xffffffff` or `1337` → value and mask. */
function markValue(text: string | undefined): { mark: number; mask?: number } | undefined {
  const [value, mask, extra] = (text ?? '').split('/');
  const mark = number(value);
  const m = mask === undefined ? undefined : number(mask);
  if (mark === undefined || extra !== undefined || (mask !== undefined && m === undefined)) return undefined;
  return m === undefined ? { mark } : { mark, mask: m };
}

/** A port or range as save prints it (`80`, `1000:2000`). */
function parsePortRange(text: string): PortRange | string {
  const port = parsePortItem(text);
  return typeof port === 'string' ? port : { first: port.first, last: port.last };
}

function ports(text: string | undefined): PortRange[] | undefined {
  const list = (text ?? '').split(',').map((p) => parsePortRange(p));
  return list.every((p) => typeof p !== 'string') ? (list as PortRange[]) : undefined;
}

/** One module option, read: a match, or undefined when this module/option is not understood. */
function moduleOption(
  module: string,
  option: string,
  arg: string | undefined,
  negated?: true,
): KernelMatch | undefined {
  const not = negated ? { negated } : {};
  const port = arg === undefined ? undefined : parsePortRange(arg);
  switch (`${module} ${option}`) {
    case 'tcp --dport':
    case 'tcp --destination-port':
    case 'udp --dport':
    case 'udp --destination-port':
      return typeof port === 'object' ? { kind: 'destinationPort', port, ...not } : undefined;
    case 'tcp --sport':
    case 'tcp --source-port':
    case 'udp --sport':
    case 'udp --source-port':
      return typeof port === 'object' ? { kind: 'sourcePort', port, ...not } : undefined;
    case 'multiport --dports':
    case 'multiport --destination-ports':
    case 'multiport --sports':
    case 'multiport --source-ports':
    case 'multiport --ports': {
      const list = ports(arg);
      const direction = option === '--ports' ? 'either' : option.startsWith('--s') ? 'source' : 'destination';
      return list ? { kind: 'multiport', ports: list, direction, ...not } : undefined;
    }
    case 'owner --uid-owner':
    case 'owner --gid-owner':
      return arg === undefined
        ? undefined
        : { kind: 'owner', owner: option === '--uid-owner' ? 'uid' : 'gid', id: arg, ...not };
    case 'mark --mark':
    case 'connmark --mark': {
      const value = markValue(arg);
      return value ? { kind: module === 'mark' ? 'mark' : 'connmark', ...value, ...not } : undefined;
    }
    case 'conntrack --ctstate':
    case 'state --state':
      return arg === undefined ? undefined : { kind: 'conntrack', states: arg.split(','), ...not };
    case 'comment --comment':
      return arg === undefined ? undefined : { kind: 'comment', text: arg };
    default:
      return undefined;
  }
}

/** `-j NAME options…` → a target; `chains` are the table's declared chains. */
function target(name: string, options: readonly string[], chains: ReadonlySet<string>, goto: boolean): KernelTarget {
  const text = [goto ? '-g' : '-j', name, ...options].join(' ');
  const unknown: KernelTarget = { kind: 'unknown', name, text };
  if (chains.has(name)) return { kind: 'jump', chain: name, ...(goto ? { goto: true as const } : {}) };
  const opt = (flag: string) => {
    const i = options.indexOf(flag);
    return i < 0 ? undefined : options[i + 1];
  };
  switch (name) {
    case 'ACCEPT':
      return { kind: 'accept' };
    case 'DROP':
      return { kind: 'drop' };
    case 'REJECT':
      return { kind: 'reject' };
    case 'RETURN':
      return { kind: 'return' };
    case 'REDIRECT': {
      const port = number((opt('--to-ports') ?? opt('--to-port'))?.split('-')[0]);
      return port === undefined ? unknown : { kind: 'redirect', toPort: port };
    }
    case 'TPROXY': {
      const mark = markValue(opt('--tproxy-mark') ?? '0');
      const port = number(opt('--on-port'));
      return mark && port !== undefined ? { kind: 'tproxy', onPort: port, ...mark } : unknown;
    }
    case 'MARK': {
      const set = opt('--set-xmark') ?? opt('--set-mark');
      const value = markValue(set);
      return value && options.length === 2 ? { kind: 'setMark', ...value } : unknown;
    }
    case 'CONNMARK': {
      // nft's save spells the default masks out: `--save-mark --nfmask 0xffffffff --ctmask 0xffffffff`.
      const masks = [opt('--nfmask'), opt('--ctmask'), opt('--mask')].filter((m) => m !== undefined);
      if (!masks.every((m) => number(m) === 0xffffffff)) return unknown;
      if (options.includes('--save-mark')) return { kind: 'connmark', action: 'save' };
      if (options.includes('--restore-mark')) return { kind: 'connmark', action: 'restore' };
      return unknown;
    }
    case 'CT': {
      const zone = number(opt('--zone'));
      return zone !== undefined && options.length === 2 ? { kind: 'ct', zone } : unknown;
    }
    case 'NFLOG': {
      // The trace-logging twins' spelling, as iptables-save prints it back.
      const [prefix, group, size] = [opt('--nflog-prefix'), number(opt('--nflog-group')), number(opt('--nflog-size'))];
      return prefix !== undefined && group !== undefined && size !== undefined && options.length === 6
        ? { kind: 'nflog', prefix, group, size }
        : unknown;
    }
    default:
      return unknown;
  }
}

/** `-s`/`-d` text as save prints it (`10.0.0.0/8`, a bare address, a dotted IPv4 mask) → a Cidr. */
function savedCidr(text: string): Cidr | undefined {
  const [address = '', length] = text.split('/');
  const parsed = parseIpAddress(address, { canonical: true });
  if (typeof parsed === 'string') return undefined;
  const bits = parsed.family === 'ipv4' ? 32 : 128;
  let prefix = length ?? String(bits);
  if (prefix.includes('.')) {
    const mask = parseIpAddress(prefix, { canonical: true });
    const bitsOfMask = typeof mask === 'string' ? '' : mask.value.toString(2).padStart(32, '0');
    if (!/^1*0*$/.test(bitsOfMask) || bitsOfMask.length !== 32) return undefined;
    prefix = String(bitsOfMask.replace(/0+$/, '').length);
  }
  const cidr = parseCidr(`${parsed.text}/${prefix}`);
  return typeof cidr === 'string' ? undefined : cidr;
}

function genericMatch(
  field: (typeof GENERIC)[string],
  value: string,
  negated: true | undefined,
  option: string,
): KernelMatch {
  const not = negated ? { negated } : {};
  switch (field) {
    case 'protocol':
      return { kind: 'protocol', protocol: value, ...not };
    case 'source':
    case 'destination': {
      const cidr = savedCidr(value);
      return cidr
        ? { kind: field, cidr, ...not }
        : { kind: 'unknown', text: [...(negated ? ['!'] : []), option, value].join(' ') };
    }
    case 'inInterface':
    case 'outInterface':
      return { kind: field, name: value, ...not };
    default: {
      const never: never = field;
      return never;
    }
  }
}

/** The tokens after `-A CHAIN` → matches and target. */
export function parseRuleSpec(
  tokens: readonly string[],
  chains: ReadonlySet<string>,
): Pick<KernelRule, 'matches' | 'target'> {
  const matches: KernelMatch[] = [];
  let result: KernelTarget = { kind: 'none' };
  let module = '';
  for (let i = 0; i < tokens.length; i++) {
    let token = tokens[i] ?? '';
    const negated = token === '!' ? (true as const) : undefined;
    if (negated) token = tokens[++i] ?? '';
    const field = GENERIC[token];
    if (field) {
      const value = tokens[++i] ?? '';
      matches.push(genericMatch(field, value, negated, token));
      module = '';
    } else if (token === '-m' || token === '--match') {
      module = tokens[++i] ?? '';
    } else if (token === '-j' || token === '--jump' || token === '-g' || token === '--goto') {
      const name = tokens[++i] ?? '';
      const options: string[] = [];
      while (i + 1 < tokens.length && !isBoundary(tokens[i + 1])) options.push(tokens[++i] ?? '');
      result = target(name, options, chains, token === '-g' || token === '--goto');
    } else if (token === '-c' || token === '--set-counters') {
      i += 2;
    } else {
      // A module option: its argument, if any, runs to the next option.
      const args: string[] = [];
      while (i + 1 < tokens.length && !tokens[i + 1]?.startsWith('-') && tokens[i + 1] !== '!')
        args.push(tokens[++i] ?? '');
      const known = args.length <= 1 ? moduleOption(module, token, args[0], negated) : undefined;
      matches.push(
        known ?? { kind: 'unknown', text: [`-m ${module}`, ...(negated ? ['!'] : []), token, ...args].join(' ') },
      );
    }
  }
  return { matches, target: result };
}

/** Reads an iptables-save or ip6tables-save dump (tables and chains by state/save-parser.ts). */
export function parseSavedRules(text: string): SavedRules {
  const tables = new Map<TableName, ReadonlyMap<string, KernelChain>>();
  const unreadable: string[] = [];
  // `iptables-save -c` puts each rule's counters first: `[3:180] -A …`.
  const saved = parseSaveTables(text.replace(/^\[\d+:\d+\]\s+/gm, ''));
  let family: IpFamily | undefined = /^# Generated by ip6tables/m.test(text) ? 'ipv6' : undefined;
  for (const table of saved) {
    const name = TABLES.find((known) => known === table.name);
    if (!name) {
      unreadable.push(`table ${table.name}`);
      continue;
    }
    const names = new Set(table.chains.map((chain) => chain.name));
    const chains = new Map<string, KernelChain>();
    for (const chain of table.chains) {
      const policy = chain.declaration?.policy;
      const rules = chain.rules.map((live): KernelRule => {
        const rule = {
          table: name,
          chain: chain.name,
          ...parseRuleSpec(live.spec, names),
          text: live.text.trim(),
          key: live.key,
        };
        family ??= rule.matches.some(
          (m) => (m.kind === 'source' || m.kind === 'destination') && m.cidr.family === 'ipv6',
        )
          ? 'ipv6'
          : undefined;
        return rule;
      });
      chains.set(chain.name, { ...(policy === 'ACCEPT' || policy === 'DROP' ? { policy } : {}), rules });
    }
    tables.set(name, chains);
  }
  return { family: family ?? 'ipv4', tables, unreadable };
}
