/**
 * The yargs command line, generated from the flag table: loaded only for `--help` and for an
 * argv that `parseKnownFlags` (argv.ts) leaves to it, since loading yargs costs more than a
 * whole dry run.
 */
import yargs, { type Argv } from 'yargs';
import { FLAG_SPECS, type FlagSpec } from '../config/flag-spec.js';
import { CONFIG_FLAG } from './argv.js';

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
    .usage(
      "$0 [flags]\n\nSet up iptables rules that send a pod's traffic through its sidecar proxy.\n" +
        "As pilot-agent's sub-command: a leading `istio-iptables` is dropped, and pilot-agent's --log_* flags are accepted and ignored.",
    )
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
      describe:
        "Istio's effective-configuration JSON record (the config.json format); - reads stdin. Flags override it.",
      group: 'Input:',
    });
  for (const spec of FLAG_SPECS) {
    parser = parser.option(spec.long, {
      type: spec.kind,
      describe: describe(spec),
      group:
        'extension' in spec && spec.extension
          ? "Settings upstream derives from the machine or env (this tool's flags):"
          : 'Upstream flags:',
      ...('short' in spec && spec.short ? { alias: spec.short } : {}),
    });
  }
  return parser;
}
