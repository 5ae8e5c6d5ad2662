/**
 * Reading `nft list ruleset` back: its tables, each with its chains (the hook line of a base
 * chain, the rule lines) and its text, which `nft -f` reads again (rollback puts a table back
 * from it). Anything else in a table (sets, maps, comments) is kept as "other" lines, so that
 * it shows up as a difference instead of being lost.
 */

export interface LiveChain {
  readonly name: string;
  /** `type nat hook prerouting priority dstnat; policy accept;` for a base chain. */
  readonly hook?: string;
  /** Rule lines, trimmed, in kernel order. */
  readonly rules: readonly string[];
}

export interface LiveTable {
  readonly family: string;
  readonly name: string;
  readonly chains: readonly LiveChain[];
  /** Lines that are neither a chain nor a rule. */
  readonly other: readonly string[];
  /** The table's block as listed, from `table …{` to its closing `}`, with a final newline. */
  readonly text: string;
}

const TABLE = /^table (\S+) (\S+) \{$/;
const CHAIN = /^chain (\S+) \{$/;
const HOOK = /^type \S+ hook \S+ (?:device \S+ )?priority /;

/** Parses nft's listing (nft 1.0: a tab per level, one statement per line). */
export function parseRuleset(text: string): LiveTable[] {
  const tables: LiveTable[] = [];
  let table: { family: string; name: string; chains: LiveChain[]; other: string[]; lines: string[] } | undefined;
  let chain: { name: string; hook?: string; rules: string[] } | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!table) {
      const head = TABLE.exec(line);
      if (head) table = { family: head[1] ?? '', name: head[2] ?? '', chains: [], other: [], lines: [raw] };
      continue;
    }
    table.lines.push(raw);
    if (raw === '}') {
      const { lines, ...rest } = table;
      tables.push({ ...rest, text: `${lines.join('\n')}\n` });
      table = undefined;
      continue;
    }
    if (line === '') continue;
    if (chain) {
      if (line === '}') {
        table.chains.push(chain);
        chain = undefined;
      } else if (HOOK.test(line) && chain.rules.length === 0 && chain.hook === undefined) chain.hook = line;
      else chain.rules.push(line);
      continue;
    }
    const head = CHAIN.exec(line);
    if (head) chain = { name: head[1] ?? '', rules: [] };
    else table.other.push(line);
  }
  return tables;
}
