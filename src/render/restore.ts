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

function render(ruleset: Ruleset): string {
  const lines = new Map<TableName, string[]>(TABLES.map((t) => [t, []]));
  const seen = new Set<string>();
  const declare = (table: TableName, chain: string) => {
    const key = `${table}/${chain}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (!isBuiltinChain(chain)) lines.get(table)?.push(`-N ${chain}`);
  };
  for (const { rule } of ruleset.ops) declare(rule.table, rule.chain);
  for (const { rule } of ruleset.ops) if (rule.target.kind === 'jump') declare(rule.table, rule.target.chain);
  for (const op of ruleset.ops) lines.get(op.rule.table)?.push(opArgs(op).join(' '));
  return TABLES.flatMap((table) => {
    const body = lines.get(table) ?? [];
    return body.length > 0 ? [`* ${table}`, ...body, 'COMMIT'] : [];
  })
    .map((line) => `${line}\n`)
    .join('');
}
