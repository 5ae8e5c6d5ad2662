/**
 * The one reader of iptables-save text (and of restore payloads in save form): the tables,
 * each chain's declaration and rules in kernel order, each rule with its text as printed
 * (usable to put it back, or as a `-D` spec), its canonical key (for comparing) and the chain
 * it jumps to.
 */
import { type TableName, TABLES } from '../model/netfilter.js';
import type { SavedChain, SavedTable } from '../render/transactions.js';
import { type CanonicalOptions, canonicalRule } from './canonical.js';

export interface LiveRule {
  /** The rule spec as printed, after `-A CHAIN`. */
  readonly spec: readonly string[];
  readonly key: string;
  /** The rule as a save line, `-A CHAIN …`. */
  readonly text: string;
  /** The argument of its `-j`: the chain it jumps to, or a target such as RETURN or REDIRECT. */
  readonly jumpsTo?: string;
}

/** A saved chain with its rules parsed. */
export interface ParsedChain extends SavedChain {
  readonly rules: LiveRule[];
}

/** A saved table with its rules parsed, chains in the order save lists them. */
export interface ParsedTable extends SavedTable {
  readonly chains: ParsedChain[];
}

/** table → chain → rules in kernel order; declared chains have an entry even when empty. */
export type TableState = Map<string, LiveRule[]>;
export type NetfilterState = Map<TableName, TableState>;

/** Splits a save line into tokens, removing the quotes save puts around arguments with spaces. */
function saveTokens(line: string): string[] {
  return (line.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? []).map((t) => (t.startsWith('"') ? t.slice(1, -1) : t));
}

/** The argument of a rule spec's `-j`. */
function jumpTarget(spec: readonly string[]): string | undefined {
  const at = spec.findIndex((token) => token === '-j' || token === '--jump');
  return at >= 0 ? spec[at + 1] : undefined;
}

/** A rule from its spec (the tokens after `-A CHAIN`). */
export function liveRule(chain: string, spec: readonly string[], options: CanonicalOptions = {}): LiveRule {
  const jumpsTo = jumpTarget(spec);
  return {
    spec,
    key: canonicalRule(spec, options),
    text: `-A ${chain} ${spec.join(' ')}`,
    ...(jumpsTo === undefined ? {} : { jumpsTo }),
  };
}

/** Every table of save text, in its order. */
export function parseSaveTables(text: string, options: CanonicalOptions = {}): ParsedTable[] {
  const tables: ParsedTable[] = [];
  let table: ParsedTable | undefined;
  const chainOf = (name: string): ParsedChain => {
    let chain = table?.chains.find((c) => c.name === name);
    if (!chain) {
      chain = { name, rules: [] };
      table?.chains.push(chain);
    }
    return chain;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith('*')) {
      const name = line.slice(1).trim();
      table = tables.find((t) => t.name === name);
      if (!table) {
        table = { name, chains: [] };
        tables.push(table);
      }
      continue;
    }
    if (!table) continue;
    if (line.startsWith(':')) {
      const [name = '', policy = '-', counters = '[0:0]'] = line.slice(1).split(' ');
      const chain = chainOf(name);
      const index = table.chains.indexOf(chain);
      table.chains[index] = { ...chain, declaration: { policy, counters } };
      continue;
    }
    const [op, name, ...spec] = saveTokens(line);
    if ((op === '-A' || op === '--append') && name) {
      const rule = liveRule(name, spec, options);
      chainOf(name).rules.push(op === '-A' ? { ...rule, text: raw } : rule);
    } else if ((op === '-N' || op === '--new-chain') && name) chainOf(name);
  }
  return tables;
}

/** The tables this tool reads, as table → chain → rules. */
export function stateOf(tables: readonly ParsedTable[]): NetfilterState {
  const state: NetfilterState = new Map();
  for (const table of tables) {
    const name = TABLES.find((known) => known === table.name);
    if (name) state.set(name, new Map(table.chains.map((chain) => [chain.name, chain.rules])));
  }
  return state;
}

export function parseSave(text: string, options: CanonicalOptions = {}): NetfilterState {
  return stateOf(parseSaveTables(text, options));
}
