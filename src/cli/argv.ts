/**
 * The command line, generated from the flag table. Go's pflag (which upstream uses) and
 * yargs disagree in a few corners; `checkArgv` closes them before yargs parses, so that no
 * spelling silently means something else:
 * - `--dry-run=yes` would be false in yargs; pflag refuses it. We refuse it too.
 * - `--dry-run false` turns dry-run ON in upstream (the `false` is an ignored positional) and
 *   OFF in yargs. Ambiguous, so refused: write `--dry-run=false`.
 * - `-x --dry-run` gives -x the value "--dry-run" in pflag and "" in yargs. Refused: a value
 *   that is empty must be written `-x ""` or `-x=`.
 * - pflag reads `-p15001` and `-ceth0` as a short flag with its value, and `-nx …` as two
 *   flags; yargs would read `-ceth0` as -c -e -t -h -0. Spelled out before yargs sees them.
 * And two things the injector writes, because upstream runs as a sub-command of pilot-agent:
 * its args start with the sub-command's name, `istio-iptables`, and may carry pilot-agent's
 * logging flags (`--log_output_level=default:info`). The name is dropped; the logging flags
 * are checked and then ignored: logs always go to stderr, one plain line each.
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

/** pilot-agent's logging flags (Istio's pkg/log), which upstream's command line inherits. */
const PILOT_AGENT_LOG_FLAGS: ReadonlyMap<string, 'boolean' | 'string' | 'integer'> = new Map([
  ['--log_as_json', 'boolean'],
  ['--log_caller', 'string'],
  ['--log_output_level', 'string'],
  ['--log_stacktrace_level', 'string'],
  ['--log_target', 'string'],
  ['--log_rotate', 'string'],
  ['--log_rotate_max_age', 'integer'],
  ['--log_rotate_max_backups', 'integer'],
  ['--log_rotate_max_size', 'integer'],
]);

/** The sub-command name pilot-agent's args begin with (`pilot-agent istio-iptables -p …`). */
const SUBCOMMAND = 'istio-iptables';

function isFlagToken(token: string): boolean {
  return byName.has(token.split('=')[0] ?? '') || token.startsWith('--');
}

/** Checks argv for the forms pflag and yargs read differently; returns argv with every flag as `--long=value` (or a bare boolean `--long`). */
export function checkArgv(argv: readonly string[]): { argv: string[]; issues: Issue[] } {
  const issues: Issue[] = [];
  const out: string[] = [];
  const tokens = argv[0] === SUBCOMMAND ? argv.slice(1) : [...argv];
  /** The value of a flag written as two words, or an issue when there is none. */
  const separateValue = (i: number, name: string, long: string): string | undefined => {
    const next = tokens[i + 1];
    if (next === undefined || (next.startsWith('-') && next.length > 1 && isFlagToken(next))) {
      issues.push({
        source: long,
        value: '',
        message: `needs a value (write ${name} "" or ${name}= for an empty one)`,
      });
      return undefined;
    }
    return next;
  };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    const eq = token.indexOf('=');
    const name = eq > 0 ? token.slice(0, eq) : token;
    const joined = /^-([A-Za-z])(.+)$/.exec(token);
    const spec = byName.get(name) ?? (joined && eq !== 2 ? byName.get(`-${joined[1]}`) : undefined);
    if (!spec) {
      const logFlag = PILOT_AGENT_LOG_FLAGS.get(name);
      if (logFlag)
        i += checkLogFlag(
          name,
          logFlag,
          eq > 0 ? token.slice(eq + 1) : undefined,
          () => separateValue(i, name, name),
          issues,
        );
      else if (name === `--${CONFIG_FLAG}`) {
        const value = eq > 0 ? token.slice(eq + 1) : separateValue(i, name, name);
        out.push(`${name}=${value ?? ''}`);
        if (eq < 0 && value !== undefined) i++;
      } else out.push(token);
      continue;
    }
    const long = `--${spec.long}`;
    if (joined && !byName.has(name)) {
      // `-p15001` is -p with 15001; `-nx …` is -n, then -x with what follows.
      if (spec.kind === 'boolean') {
        out.push(long);
        tokens.splice(i + 1, 0, `-${joined[2]}`);
      } else out.push(`${long}=${joined[2]}`);
      continue;
    }
    if (spec.kind === 'boolean') {
      if (eq > 0) {
        const value = parseBoolean(token.slice(eq + 1));
        if (value === undefined || token.slice(eq + 1) === '') {
          issues.push({ source: long, value: token.slice(eq + 1), message: 'expected true or false' });
        }
        out.push(`${long}=${String(value ?? false)}`);
        continue;
      }
      const next = tokens[i + 1];
      if (next !== undefined && parseBoolean(next) !== undefined && next !== '') {
        issues.push({
          source: long,
          value: next,
          message: `a separate value is ambiguous (upstream ignores it and turns the flag on): write ${long}=${next}`,
        });
        i++;
      }
      out.push(long);
      continue;
    }
    if (eq > 0) {
      out.push(`${long}=${token.slice(eq + 1)}`);
      continue;
    }
    const value = separateValue(i, name, long);
    out.push(`${long}=${value ?? ''}`);
    if (value !== undefined) i++;
  }
  return { argv: out, issues };
}

/**
 * Checks one of pilot-agent's logging flags, whose value is then ignored; returns how many
 * more tokens it took (1 for a value written as a separate word).
 */
function checkLogFlag(
  name: string,
  kind: 'boolean' | 'string' | 'integer',
  inline: string | undefined,
  separate: () => string | undefined,
  issues: Issue[],
): number {
  if (kind === 'boolean') {
    if (inline !== undefined && (inline === '' || parseBoolean(inline) === undefined))
      issues.push({ source: name, value: inline, message: 'expected true or false' });
    return 0;
  }
  const value = inline ?? separate();
  if (value !== undefined && kind === 'integer' && !/^[0-9]+$/.test(value))
    issues.push({ source: name, value, message: 'expected a whole number' });
  return inline === undefined && value !== undefined ? 1 : 0;
}

/**
 * The flags of an argv that `checkArgv` normalised, read without yargs (which takes longer to
 * load than a whole dry run takes): possible when every token is a known flag in its
 * normalised form (`--long=value`, or `--long` / `--long=true|false` for a boolean). Gives what yargs would (`command-line.test.ts` checks that), or undefined
 * for anything else (help, unknown flags, positionals, quoted values), which yargs then parses.
 */
export function parseKnownFlags(normalised: readonly string[]): Record<string, string | boolean> | undefined {
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < normalised.length; i++) {
    const token = normalised[i] ?? '';
    const eq = token.indexOf('=');
    const name = eq > 0 ? token.slice(2, eq) : token.slice(2);
    const value = eq > 0 ? token.slice(eq + 1) : undefined;
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
