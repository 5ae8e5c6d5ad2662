/**
 * A canonical form of one rule, so that what we planned can be compared with what
 * `iptables-save` prints. iptables-save rewrites rules: it reorders the basic options
 * (`-s -d -i -o -p`), names the implicit protocol match (`-m tcp`), prints marks in hex and
 * MARK as `--set-xmark V/M`, adds default options (`--nfmask`, `--ctmask`, `--on-ip`), masks
 * CIDRs and prints owners as numbers. Both backends (legacy and nft) print the same text.
 * The canonical form is the sorted list of option groups, each tagged with its match module.
 */
import { maskCidr, parseCidr } from '../model/network.js';

export interface CanonicalOptions {
  /** Resolves a user or group name to its id, as iptables does when it parses the rule. */
  readonly resolveOwner?: (kind: 'uid' | 'gid', name: string) => number | undefined;
}

const FULL_MASK = 0xffffffff;

function maskedCidr(text: string): string {
  const withLength = text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`;
  const cidr = parseCidr(withLength);
  return typeof cidr === 'string' ? text : maskCidr(cidr).text;
}

/** `0x539`, `1337`, `0x539/0xffffffff` → `1337/4294967295`. */
function markValue(text: string): string {
  const [value, mask] = text.split('/');
  const n = (s: string | undefined, fallback: number) => (s === undefined ? fallback : Number(s));
  return `${n(value, NaN)}/${n(mask, FULL_MASK)}`;
}

/** `51980:51980` → `51980`, `:1000` → `0:1000`, `1000:` → `1000:65535`, ` 81` → `81`; as save prints them. */
function portValue(text: string): string {
  const [first = '', last] = text.trim().split(':');
  const a = first === '' ? 0 : Number(first);
  const b = last === undefined ? a : last === '' ? 65535 : Number(last);
  return a === b ? String(a) : `${a}:${b}`;
}

/** `1000-2000` and `1000:2000` → `1000-2000`, `1000-1000` → `1000`: as save prints owner ranges. */
function ownerValue(kind: 'uid' | 'gid', text: string, options: CanonicalOptions): string {
  const range = /^([0-9]+)[-:]([0-9]+)$/.exec(text);
  if (range) return range[1] === range[2] ? String(range[1]) : `${range[1]}-${range[2]}`;
  if (/^[0-9]+$/.test(text)) return text;
  const id = options.resolveOwner?.(kind, text);
  return id === undefined ? text : String(id);
}

/** Options that only restate a default, and are dropped. */
function isDefault(target: string, option: string, args: readonly string[]): boolean {
  if (target === 'CONNMARK') return (option === '--nfmask' || option === '--ctmask') && Number(args[0]) === FULL_MASK;
  if (target === 'TPROXY') return option === '--on-ip' && (args[0] === '0.0.0.0' || args[0] === '::');
  return false;
}

function normalise(option: string, args: string[], options: CanonicalOptions): [string, string[]] {
  switch (option) {
    case '-s':
    case '--source':
      return ['-s', args.map(maskedCidr)];
    case '-d':
    case '--destination':
      return ['-d', args.map(maskedCidr)];
    case '--mark':
    case '--tproxy-mark':
    case '--set-xmark':
      return [option, args.map(markValue)];
    case '--set-mark':
      return ['--set-xmark', args.map(markValue)];
    case '--to-port':
      return ['--to-ports', args];
    case '--dport':
    case '--destination-port':
      return ['--dport', args.map(portValue)];
    case '--sport':
    case '--source-port':
      return ['--sport', args.map(portValue)];
    case '--uid-owner':
    case '--gid-owner':
      return [option, args.map((a) => ownerValue(option === '--uid-owner' ? 'uid' : 'gid', a, options))];
    default:
      return [option, args];
  }
}

/**
 * A match save does not print because it matches every packet: `-d 10.0.0.1/0` (a /0 CIDR,
 * which upstream keeps unmasked), `--dport 0:65535`.
 */
function matchesEverything(option: string, values: readonly string[]): boolean {
  const [value] = values;
  if (option === '-s' || option === '-d') return value === '0.0.0.0/0' || value === '::/0';
  return (option === '--dport' || option === '--sport') && value === '0:65535';
}

/** The canonical key of a rule given as the tokens after `-A CHAIN`. */
export function canonicalRule(tokens: readonly string[], options: CanonicalOptions = {}): string {
  const groups: string[] = [];
  let module = '';
  let protocol = '';
  let negated = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    if (token === '!') {
      negated = true;
      continue;
    }
    const args: string[] = [];
    while (i + 1 < tokens.length && !(tokens[i + 1] ?? '').startsWith('-') && tokens[i + 1] !== '!')
      args.push((tokens[++i] ?? '').trim()); // an item padded with spaces, as upstream copies it
    if (token === '-m' || token === '--match') {
      module = args[0] ?? '';
      groups.push(`m:${module}`);
    } else if (token === '-j' || token === '--jump') {
      module = `target:${args[0] ?? ''}`;
      groups.push(`j:${args[0] ?? ''}`);
    } else if (token === '-p' || token === '--protocol') {
      protocol = args[0] ?? '';
      groups.push(`${negated ? '!' : ''}-p ${protocol}`);
    } else if (!isDefault(module.replace('target:', ''), token, args)) {
      // --dport/--sport without -m belong to the implicit protocol match, which save names.
      const owner = module === '' && (token === '--dport' || token === '--sport') ? protocol : module;
      if (owner === protocol && owner !== '' && !groups.includes(`m:${owner}`)) groups.push(`m:${owner}`);
      const [option, values] = normalise(token, args, options);
      if (negated || !matchesEverything(option, values))
        groups.push(`${owner}|${negated ? '!' : ''}${option} ${values.join(' ')}`.trimEnd());
    }
    negated = false;
  }
  return groups.sort().join(' ; ');
}
