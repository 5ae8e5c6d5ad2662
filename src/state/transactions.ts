/**
 * Restore payloads computed from the live state, for the cases upstream handles with many
 * separate commands. Each table of a payload is one transaction, so traffic never sees a
 * half-replaced table: both backends commit at each table's COMMIT line (a payload of several
 * tables can fail after committing the first ones, which is why rollback names every table of
 * a payload it tried).
 */
import { BUILTIN_CHAINS, isBuiltinChain, isOwnedChain } from '../model/chains.js';
import type { Ruleset, TableName } from '../model/netfilter.js';
import { opArgs } from '../render/args.js';
import { canonicalRule, type CanonicalOptions } from './canonical.js';
import type { ExpectedState } from './compare.js';
import { PLAN_TABLES } from './compare.js';
import { saveTokens, type LiveRule, type NetfilterState } from './save-parser.js';

const quote = (token: string) => (/\s/.test(token) ? `"${token.replace(/"/g, '\\"')}"` : token);

/** Live rules in built-in chains that belong to us: jumps into owned chains, or rules we plan. */
function ownedBuiltinRules(
  table: TableName,
  live: NetfilterState,
  expected: ExpectedState,
): { chain: string; rule: LiveRule }[] {
  const found: { chain: string; rule: LiveRule }[] = [];
  for (const [chain, rules] of live.get(table) ?? []) {
    if (!isBuiltinChain(chain)) continue;
    const planned = new Set((expected.get(table)?.get(chain) ?? []).map((r) => r.key));
    for (const rule of rules) {
      if (planned.has(rule.key) || rule.key.split(' ; ').some((g) => g.startsWith('j:ISTIO_')))
        found.push({ chain, rule });
    }
  }
  return found;
}

function tableBlock(
  table: TableName,
  live: NetfilterState,
  expected: ExpectedState,
  body: readonly string[],
  keepPlanned: boolean,
): string[] {
  const liveOwned = [...(live.get(table)?.keys() ?? [])].filter(isOwnedChain);
  const planned = keepPlanned ? [...(expected.get(table)?.keys() ?? [])].filter(isOwnedChain) : [];
  const chains = [...new Set([...planned, ...liveOwned])];
  const deletes = ownedBuiltinRules(table, live, expected).map(({ chain, rule }) =>
    ['-D', chain, ...rule.spec].map(quote).join(' '),
  );
  const stale = liveOwned.filter((c) => !planned.includes(c)).map((c) => `-X ${c}`);
  const lines = [
    // Declaring a chain creates it, or flushes it when it exists.
    ...chains.map((c) => `:${c} - [0:0]`),
    ...deletes,
    ...stale,
    ...body,
  ];
  return lines.length > 0 ? [`*${table}`, ...lines, 'COMMIT'] : [];
}

function join(lines: readonly string[]): string {
  return lines.map((l) => `${l}\n`).join('');
}

/** Replaces whatever of ours is live with the plan, in one transaction (reconcile, force-apply). */
export function replacePayload(ruleset: Ruleset, live: NetfilterState, expected: ExpectedState): string {
  return join(
    PLAN_TABLES.flatMap((table) => {
      const body = ruleset.ops.filter((op) => op.rule.table === table).map((op) => opArgs(op).join(' '));
      return tableBlock(table, live, expected, body, true);
    }),
  );
}

/** Removes our chains, the jumps into them and the rules we plan in built-in chains. */
export function cleanupPayload(live: NetfilterState, expected: ExpectedState): string {
  return join(PLAN_TABLES.flatMap((table) => tableBlock(table, live, expected, [], false)));
}

/**
 * Puts the given tables back exactly as they were (`iptables-restore` without --noflush
 * replaces each table it names). A table that did not exist before is emptied.
 */
export function rollbackPayload(before: string, tables: readonly TableName[]): string {
  const blocks = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of before.split('\n')) {
    if (line.startsWith('*')) {
      const name = line.slice(1).trim();
      current = tables.includes(name as TableName) ? [] : undefined;
      if (current) blocks.set(name, current);
    }
    if (current && !line.startsWith('#') && line.trim() !== '') current.push(line);
  }
  return join(
    tables.flatMap((table) => {
      const block = blocks.get(table);
      if (block) return block;
      const builtins = BUILTIN_CHAINS.filter((c) => BUILTINS_BY_TABLE[table].includes(c));
      return [`*${table}`, ...builtins.map((c) => `:${c} ACCEPT [0:0]`), 'COMMIT'];
    }),
  );
}

const BUILTINS_BY_TABLE: Readonly<Record<TableName, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
};

/** Tables a payload names. */
export function payloadTables(payload: string): TableName[] {
  return payload
    .split('\n')
    .filter((l) => l.startsWith('*'))
    .map((l) => l.slice(1).trim() as TableName);
}

/**
 * The state from before a restore that created the planned chains of `table` and appended the
 * planned rules to its built-in chains, worked out from the state read after it (see
 * exec/apply.ts, restoring first): the planned owned chains removed (the restore created them:
 * its `-N` fails on a chain that exists) and the planned rules taken off the ends of the
 * built-in chains (where `-A` put them), foreign rules kept in their order. Undefined when
 * those ends are not the planned rules, that is when something else changed the chains too.
 */
export function stateBeforeRestore(
  after: string,
  table: TableName,
  expected: ExpectedState,
  options: CanonicalOptions = {},
): string | undefined {
  const planned = expected.get(table) ?? new Map<string, readonly LiveRule[]>();
  const lines = after.split('\n');
  const keep = lines.map(() => true);
  /** Built-in chain → the indexes of its rule lines, in order. */
  const builtinRules = new Map<string, number[]>();
  let inTable = false;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('*')) inTable = line.slice(1).trim() === table;
    if (!inTable) return;
    const [op, chain = ''] = line.startsWith(':') ? [':', line.slice(1).split(' ')[0]] : saveTokens(line);
    if (op !== ':' && op !== '-A') return;
    if (isOwnedChain(chain) && planned.has(chain)) keep[i] = false;
    else if (op === '-A' && isBuiltinChain(chain)) {
      const indexes = builtinRules.get(chain) ?? [];
      indexes.push(i);
      builtinRules.set(chain, indexes);
    }
  });
  for (const [chain, rules] of planned) {
    if (!isBuiltinChain(chain)) continue;
    const indexes = builtinRules.get(chain) ?? [];
    if (indexes.length < rules.length) return undefined;
    const ours = indexes.slice(indexes.length - rules.length);
    for (const [k, i] of ours.entries()) {
      const spec = saveTokens(lines[i] ?? '').slice(2);
      if (canonicalRule(spec, options) !== rules[k]?.key) return undefined;
      keep[i] = false;
    }
  }
  return lines.filter((_, i) => keep[i]).join('\n');
}
