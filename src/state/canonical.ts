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

function ownerValue(kind: 'uid' | 'gid', text: string, options: CanonicalOptions): string {
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
    case '--uid-owner':
    case '--gid-owner':
      return [option, args.map((a) => ownerValue(option === '--uid-owner' ? 'uid' : 'gid', a, options))];
    default:
      return [option, args];
  }
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
      args.push(tokens[++i] ?? '');
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
      groups.push(`${owner}|${negated ? '!' : ''}${option} ${values.join(' ')}`.trimEnd());
    }
    negated = false;
  }
  return groups.sort().join(' ; ');
}
