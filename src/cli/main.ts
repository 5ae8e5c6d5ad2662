/**
 * The CLI: argv and env in, an exit code out. The only place errors become exit codes and
 * messages; everything it calls throws typed errors and never exits.
 */
import { ConfigError, type Issue } from '../errors.js';
import { parseConfigRecord } from '../config/config-file.js';
import { deriveSettings, type HostFacts } from '../config/derive.js';
import { resolveSettings } from '../config/settings.js';
import { toCaptureConfig, type ParsedConfig } from '../config/to-capture-config.js';
import { planCapture, type CapturePlan } from '../plan/plan-capture.js';
import { renderDryRun, renderUpstreamTranscript } from '../render/dry-run.js';
import { configurationDump } from '../config/dump.js';
import { createLogger, DEFAULT_LOG_SETTINGS, type Logger, lineLogger, microsecondClock, runLogger } from './logging.js';
import { checkArgv, CONFIG_FLAG, parseKnownFlags } from './argv.js';
import { EXIT, reportFailure } from './failure.js';
import type { NftApply } from './nftables.js';
import { planNotes } from './plan-notes.js';
import { writeTranscript } from './transcript.js';

export { EXIT } from './failure.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  readFile(path: string): Promise<string>;
}

export interface CliDeps {
  /** How derived settings reach the machine: our own namespace, or the one given. */
  hostFacts(networkNamespace: string | undefined): Promise<HostFacts>;
  /** Applies a plan for real; absent means the CLI can only dry-run. */
  readonly apply?: (plan: CapturePlan, parsed: ParsedConfig, logger: Logger) => Promise<void>;
  /** Applies a `--native-nftables` plan for real; absent means such runs can only dry-run. */
  readonly applyNftables?: NftApply;
  /** Microseconds since the epoch, for log lines; node's clock by default. */
  readonly clock?: () => number;
}

/** yargs' "Unknown arguments: a, b" → one issue per argument, named as it was typed. */
function yargsIssues(message: string, argv: readonly string[]): Issue[] {
  const unknown = /^Unknown arguments?: (.*)$/.exec(message);
  if (!unknown) return [{ source: 'command line', value: argv.join(' '), message }];
  return (unknown[1] ?? '').split(', ').map((name) => {
    const typed = argv.find((a) => a.replace(/^--?/, '').split('=')[0] === name && a.startsWith('-'));
    return typed
      ? {
          source: typed.split('=')[0] ?? typed,
          value: typed.includes('=') ? typed.slice(typed.indexOf('=') + 1) : '',
          message: 'unknown flag (see --help)',
        }
      : { source: 'command line', value: name, message: 'unexpected argument: istio-iptables takes only flags' };
  });
}

/** Command line → flags by long name, or every problem with it. */
async function parseArgv(
  argv: readonly string[],
): Promise<{ flags: Record<string, string | boolean>; config?: string; help: boolean }> {
  const checked = checkArgv(argv);
  let parsed: Record<string, unknown>;
  try {
    const known = parseKnownFlags(checked.argv);
    parsed = known
      ? { _: [], ...known }
      : ((await import('./command-line.js')).commandLine(checked.argv).parseSync() as Record<string, unknown>);
  } catch (error) {
    throw new ConfigError([...checked.issues, ...yargsIssues((error as Error).message, argv)]);
  }
  if (checked.issues.length > 0) throw new ConfigError(checked.issues);
  const { _: positional, $0: _script, help, [CONFIG_FLAG]: config, ...flags } = parsed;
  void _script;
  if (Array.isArray(positional) && positional.length > 0) {
    throw new ConfigError([{ source: 'command line', value: positional.join(' '), message: 'unexpected argument' }]);
  }
  return {
    flags: flags as Record<string, string | boolean>,
    ...(typeof config === 'string' ? { config } : {}),
    help: help === true,
  };
}

async function readConfig(path: string, io: CliIo): Promise<{ record?: Record<string, unknown>; issues: Issue[] }> {
  let text: string;
  try {
    text = path === '-' ? await io.readStdin() : await io.readFile(path);
  } catch (error) {
    return { issues: [{ source: '--config', value: path, message: `cannot read: ${(error as Error).message}` }] };
  }
  return parseConfigRecord(text, path === '-' ? 'stdin' : path);
}

/** Flags, file, env and machine → validated configuration. */
export async function loadConfiguration(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CliIo,
  deps: Pick<CliDeps, 'hostFacts'>,
): Promise<ParsedConfig | 'help'> {
  const { flags, config, help } = await parseArgv(argv);
  if (help) return 'help';
  const file = config === undefined ? { issues: [] } : await readConfig(config, io);
  const resolved = resolveSettings({ flags, env, ...(file.record ? { config: file.record } : {}) });
  const netns = resolved.settings['network-namespace'].value;
  const host = await deps.hostFacts(typeof netns === 'string' && netns.startsWith('/') ? netns : undefined);
  const derived = await deriveSettings(resolved.settings, env, host);
  const parsed = toCaptureConfig(derived.settings, [...file.issues, ...resolved.issues]);
  if (derived.error) throw derived.error;
  return derived.warnings.length > 0 ? { ...parsed, warnings: [...derived.warnings, ...parsed.warnings] } : parsed;
}

export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CliIo,
  deps: CliDeps,
): Promise<number> {
  const clock = deps.clock ?? microsecondClock;
  let logger = createLogger(DEFAULT_LOG_SETTINGS, io, clock);
  try {
    // Sub-commands (and the libraries they bring) load only when named: a plain run's start-up
    // does not change.
    if (argv[0] === 'explain')
      return await (await import('./commands/explain.js')).explainCommand(argv.slice(1), env, io, deps);
    if (argv[0] === 'doctor') {
      const { doctor } = await import('./commands/doctor.js');
      // doctor reports in its own words, a plain line each.
      const say = (line: string) => io.stderr(`${line}\n`);
      return await doctor(argv.slice(1), (rest) => loadConfiguration(rest, env, io, deps), io.stdout, say);
    }
    if (argv[0] === 'pod') {
      const { podCommand } = await import('./commands/pod.js');
      return await podCommand(argv.slice(1), io, (args, podEnv) => main(args, podEnv, io, deps));
    }
    logger = runLogger(checkArgv(argv).logFlags, io, clock);
    const parsed = await loadConfiguration(argv, env, io, deps);
    if (parsed === 'help') {
      const { commandLine } = await import('./command-line.js');
      io.stdout(`${await commandLine([]).getHelp()}\n`);
      return EXIT.ok;
    }
    if (logger.enabled('info')) logger.info(configurationDump(parsed.settings));
    for (const warning of parsed.warnings) logger.warn(warning);
    if (parsed.options.nativeNftables) {
      const path = env.DRY_RUN_FILE_PATH;
      const transcript = path ? (text: string) => writeTranscript(path, text) : undefined;
      const { runNftables } = await import('./nftables.js');
      await runNftables(parsed, { stdout: io.stdout, log: lineLogger(logger), transcript }, deps.applyNftables);
      return EXIT.ok;
    }
    const plan = planCapture(parsed.config);
    for (const note of planNotes(plan, parsed.config, parsed.options)) logger[note.level](note.message);
    if (parsed.options.dryRun) {
      // The transcript first: a path that cannot be written is bad input, reported before any output.
      const transcriptPath = env.DRY_RUN_FILE_PATH;
      if (transcriptPath) writeTranscript(transcriptPath, renderUpstreamTranscript(plan, parsed.options));
      if (!parsed.options.skipRuleApply) io.stdout(renderDryRun(plan, parsed.options));
      // Upstream probes for real even in a dry run (and so fails); a dry run here touches nothing.
      if (parsed.options.runValidation) logger.info('dry run: skipping --run-validation');
      return EXIT.ok;
    }
    if (!deps.apply)
      throw new ConfigError([{ source: '--dry-run', value: 'false', message: 'this build can only dry-run' }]);
    await deps.apply(plan, parsed, logger);
    return EXIT.ok;
  } catch (error) {
    // After a bad logging flag, `logger` is still the default one.
    return reportFailure(error, logger);
  }
}
