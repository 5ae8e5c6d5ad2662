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
import yargs, { type Argv } from 'yargs';
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

function describe(spec: FlagSpec): string {
  const notes = [
    spec.env.length > 0 ? `env: ${spec.env.join(', ')}` : '',
    spec.configKey ? `config: ${spec.configKey}` : '',
    typeof spec.default === 'string' && spec.default !== '' ? `default: ${spec.default}` : '',
  ].filter(Boolean);
  return notes.length > 0 ? `${spec.describe} [${notes.join('; ')}]` : spec.describe;
}

/** A fresh yargs instance (never the singleton), strict, throwing instead of exiting. */
export function commandLine(argv: readonly string[]): Argv {
  let parser = yargs([...argv])
    .scriptName('istio-iptables')
    .usage('$0 [flags]\n\nSet up iptables rules that send a pod\'s traffic through its sidecar proxy.')
    .parserConfiguration({
      'camel-case-expansion': false,
      'strip-aliased': true,
      'duplicate-arguments-array': false,
      'boolean-negation': false,
      'dot-notation': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'greedy-arrays': false,
    })
    .strict()
    .exitProcess(false)
    // Help is printed by main() through its io, not by yargs to the console.
    .help(false)
    .version(false)
    .option('help', { alias: 'h', type: 'boolean', describe: 'Show this help.', group: 'Input:' })
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((message, error) => {
      throw error ?? new Error(message);
    })
    .option(CONFIG_FLAG, {
      type: 'string',
      describe: "Istio's effective-configuration JSON record (the config.json format); - reads stdin. Flags override it.",
      group: 'Input:',
    });
  for (const spec of FLAG_SPECS) {
    parser = parser.option(spec.long, {
      type: spec.kind,
      describe: describe(spec),
      group: 'extension' in spec && spec.extension ? 'Settings upstream derives from the machine or env (this tool\'s flags):' : 'Upstream flags:',
      ...('short' in spec && spec.short ? { alias: spec.short } : {}),
    });
  }
  return parser;
}
