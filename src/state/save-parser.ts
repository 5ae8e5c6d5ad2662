/**
 * iptables-save (or restore-payload) text → the rules of each chain, in order, with each
 * rule's original text (usable as a `-D` spec) and its canonical key (for comparing).
 */
import type { TableName } from '../model/netfilter.js';
import { canonicalRule, type CanonicalOptions } from './canonical.js';

export interface LiveRule {
  /** The rule spec as printed, after `-A CHAIN`. */
  readonly spec: readonly string[];
  readonly key: string;
}

/** table → chain → rules in kernel order; declared chains have an entry even when empty. */
export type TableState = Map<string, LiveRule[]>;
export type NetfilterState = Map<TableName, TableState>;

const TABLES: readonly TableName[] = ['filter', 'mangle', 'nat', 'raw'];

/** Splits a save line into tokens, removing the quotes save puts around arguments with spaces. */
export function saveTokens(line: string): string[] {
  return (line.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? []).map((t) => (t.startsWith('"') ? t.slice(1, -1) : t));
}

export function parseSave(text: string, options: CanonicalOptions = {}): NetfilterState {
  const state: NetfilterState = new Map();
  let table: TableState | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith('*')) {
      const name = line.slice(1).trim() as TableName;
      table = TABLES.includes(name) ? (state.get(name) ?? new Map()) : undefined;
      if (table) state.set(name, table);
      continue;
    }
    if (!table) continue;
    if (line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0] ?? '';
      if (!table.has(chain)) table.set(chain, []);
      continue;
    }
    const [op, chain, ...rest] = saveTokens(line);
    if ((op === '-A' || op === '--append') && chain) {
      const rules = table.get(chain) ?? [];
      rules.push({ spec: rest, key: canonicalRule(rest, options) });
      table.set(chain, rules);
    } else if ((op === '-N' || op === '--new-chain') && chain && !table.has(chain)) {
      table.set(chain, []);
    }
  }
  return state;
}
