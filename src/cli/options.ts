/**
 * The command line, generated from the flag table. Go's pflag (which upstream uses) and
 * yargs disagree in a few corners; `checkArgv` closes them before yargs parses, so that no
 * spelling silently means something else:
 * - `--dry-run=yes` would be false in yargs; pflag refuses it. We refuse it too.
 * - `--dry-run false` turns dry-run ON in upstream (the `false` is an ignored positional) and
 *   OFF in yargs. Ambiguous, so refused: write `--dry-run=false`.
 * - `-x --dry-run` gives -x the value "--dry-run" in pflag and "" in yargs. Refused: a value
 *   that is empty must be written `-x ""` or `-x=`.
 */
import type { Issue } from '../errors.js';
import { FLAG_SPECS, type FlagSpec } from '../config/flag-spec.js';
import { parseBoolean } from '../config/settings.js';

export const CONFIG_FLAG = 'config';

const byName = new Map<string, FlagSpec>();
for (const spec of FLAG_SPECS) {
  byName.set(`--${spec.long}`, spec);
  if ('short' in spec && spec.short) byName.set(`-${spec.short}`, spec);
}

function isFlagToken(token: string): boolean {
  return byName.has(token.split('=')[0] ?? '') || token.startsWith('--');
}

/** Checks argv for the forms pflag and yargs read differently; returns argv with booleans normalised. */
export function checkArgv(argv: readonly string[]): { argv: string[]; issues: Issue[] } {
  const issues: Issue[] = [];
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    const eq = token.indexOf('=');
    const name = eq > 0 ? token.slice(0, eq) : token;
    const spec = byName.get(name);
    if (!spec) {
      out.push(token);
      continue;
    }
    const long = `--${spec.long}`;
    if (spec.kind === 'boolean') {
      if (eq > 0) {
        const value = parseBoolean(token.slice(eq + 1));
        if (value === undefined || token.slice(eq + 1) === '') {
          issues.push({ source: long, value: token.slice(eq + 1), message: 'expected true or false' });
        }
        out.push(`${long}=${String(value ?? false)}`);
        continue;
      }
      const next = argv[i + 1];
      if (next !== undefined && parseBoolean(next) !== undefined && next !== '') {
        issues.push({ source: long, value: next, message: `a separate value is ambiguous (upstream ignores it and turns the flag on): write ${long}=${next}` });
        i++;
      }
      out.push(long);
      continue;
    }
    if (eq > 0) {
      out.push(`${long}=${token.slice(eq + 1)}`);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || (next.startsWith('-') && next.length > 1 && isFlagToken(next))) {
      issues.push({ source: long, value: '', message: `needs a value (write ${name} "" or ${name}= for an empty one)` });
      out.push(`${long}=`);
      continue;
    }
    out.push(`${long}=${next}`);
    i++;
  }
  return { argv: out, issues };
}

/**
 * The flags of an argv that `checkArgv` normalised, read without yargs (which takes longer to
 * load than a whole dry run takes): possible when every token is a known flag in its
 * normalised form (`--long=value`, or `--long` / `--long=true|false` for a boolean) or
 * `--config FILE`. Gives what yargs would (`command-line.test.ts` checks that), or undefined
 * for anything else (help, unknown flags, positionals, quoted values), which yargs then parses.
 */
export function parseKnownFlags(normalised: readonly string[]): Record<string, string | boolean> | undefined {
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < normalised.length; i++) {
    const token = normalised[i] ?? '';
    const eq = token.indexOf('=');
    const name = eq > 0 ? token.slice(2, eq) : token.slice(2);
    // `--config FILE` is the one spelling checkArgv leaves as two words.
    const next = normalised[i + 1];
    const separate = token === `--${CONFIG_FLAG}` && next !== undefined && !next.startsWith('-') ? normalised[++i] : undefined;
    const value = eq > 0 ? token.slice(eq + 1) : separate;
    const spec = token.startsWith('--') ? byName.get(`--${name}`) : undefined;
    const kind = name === CONFIG_FLAG ? 'string' : spec?.long === name ? spec.kind : undefined;
    // yargs strips one pair of quotes around a value: leave such values to it.
    if (kind === undefined || (value !== undefined && /^["']/.test(value))) return undefined;
    if (kind === 'boolean') {
      if (value !== undefined && value !== 'true' && value !== 'false') return undefined;
      flags[name] = value !== 'false';
    } else {
      if (value === undefined) return undefined;
      flags[name] = value;
    }
  }
  return flags;
}
