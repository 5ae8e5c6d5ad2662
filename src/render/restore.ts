/**
 * Ruleset → iptables-restore text, byte-identical to upstream: tables in alphabetical order,
 * `* table` headers, `-N` declarations (first-use order, then chains only jumped to), rule
 * lines in creation order, `COMMIT`. No `:CHAIN` policy lines: declaring chains with `-N`
 * makes a restore fail when they already exist, which the apply logic relies on.
 */
import { isBuiltinChain } from '../model/chains.js';
import { type Ruleset, TABLES, type TableName } from '../model/netfilter.js';
import { opArgs } from './args.js';

/** The tables a ruleset's payload names, in the payload's order. */
export function restoreTables(ruleset: Ruleset): TableName[] {
  return TABLES.filter((table) => ruleset.ops.some((op) => op.rule.table === table));
}

/** Each ruleset's text, rendered once: the size warnings, the dry run and apply all need it. */
const rendered = new WeakMap<Ruleset, string>();

export function renderRestore(ruleset: Ruleset): string {
  let text = rendered.get(ruleset);
  if (text === undefined) {
    text = render(ruleset);
    rendered.set(ruleset, text);
  }
  return text;
}

/** One table's part of a payload: the chains it declares and its rules' arguments, in order. */
export interface TableSection {
  readonly table: TableName;
  readonly chains: readonly string[];
  readonly rules: readonly (readonly string[])[];
}

/** The payload's tables in order, each with its `-N` chains and rule lines as argument lists. */
export function tableSections(ruleset: Ruleset): TableSection[] {
  const chains = new Map<TableName, string[]>(TABLES.map((t) => [t, []]));
  const seen = new Set<string>();
  const declare = (table: TableName, chain: string) => {
    const key = `${table}/${chain}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (!isBuiltinChain(chain)) chains.get(table)?.push(chain);
  };
  for (const { rule } of ruleset.ops) declare(rule.table, rule.chain);
  for (const { rule } of ruleset.ops) if (rule.target.kind === 'jump') declare(rule.table, rule.target.chain);
  return TABLES.flatMap((table) => {
    const rules = ruleset.ops.filter((op) => op.rule.table === table).map(opArgs);
    const declared = chains.get(table) ?? [];
    return declared.length > 0 || rules.length > 0 ? [{ table, chains: declared, rules }] : [];
  });
}

function render(ruleset: Ruleset): string {
  return tableSections(ruleset)
    .flatMap(({ table, chains, rules }) => [
      `* ${table}`,
      ...chains.map((chain) => `-N ${chain}`),
      ...rules.map((args) => args.join(' ')),
      'COMMIT',
    ])
    .map((line) => `${line}\n`)
    .join('');
}

/**
 * `--restore-format=false`: the same plan as one iptables command per chain and rule, as
 * Istio 1.20 ran it: `-t TABLE -N CHAIN` for every chain first, then `-t TABLE -A|-I …` for
 * each rule, both in payload order. Arguments only: the binary is the backend's.
 */
export function perRuleCommands(ruleset: Ruleset): string[][] {
  const sections = tableSections(ruleset);
  return [
    ...sections.flatMap(({ table, chains }) => chains.map((chain) => ['-t', table, '-N', chain])),
    ...sections.flatMap(({ table, rules }) => rules.map((args) => ['-t', table, ...args])),
  ];
}
