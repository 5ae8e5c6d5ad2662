/** `ip rule show` text → the policy rules that select a table by firewall mark. */

/** One `fwmark VALUE[/MASK] lookup TABLE` rule; `table` is -1 for a table given by name. */
export interface FwmarkRule {
  readonly mark: number;
  readonly mask: number;
  readonly table: number;
  /** `from all fwmark M lookup T` and nothing more (any priority): the shape a TPROXY run adds. */
  readonly plain: boolean;
}

/** Reads `32765:	from all fwmark 0x539 lookup 133` lines; other rules are not about marks. */
export function parseFwmarkRules(text: string): FwmarkRule[] {
  return text.split('\n').flatMap((line) => {
    const match = /\bfwmark (0x[0-9a-fA-F]+|\d+)(?:\/(0x[0-9a-fA-F]+|\d+))? lookup (\S+)/.exec(line);
    if (!match) return [];
    const table = /^\d+$/.test(match[3] ?? '') ? Number(match[3]) : -1;
    const plain = /^\d+:\s+from all fwmark \S+ lookup \S+\s*$/.test(line) && match[2] === undefined && table >= 0;
    return [{ mark: Number(match[1]), mask: match[2] === undefined ? 0xffffffff : Number(match[2]), table, plain }];
  });
}
