/**
 * `istio-iptables explain …`: which rule decides a connection's fate. Loaded only when the
 * first argument is `explain`. The capture settings are read exactly as a run reads them
 * (flags, env, --config: `loadConfiguration`); the connection and mode flags are explain's own.
 * The rules come from the plan (no privileges needed), a saved dump (`--from-save`), or a live
 * namespace (`--live-rules`, read through the CLI's own runner: src/explain never runs anything).
 */
import { ConfigError, type Issue } from '../../errors.js';
import { parseConnection, type ConnectionFlags } from '../../explain/connection.js';
import { explainConnection, planSource, savedSource, type RuleSource } from '../../explain/explain.js';
import { formatWalk, walkJson } from '../../explain/format.js';
import { withPlannedOrigins } from '../../explain/provenance.js';
import { captureReport, formatReport } from '../../explain/report.js';
import type { ListenerPorts } from '../../explain/outcome.js';
import { AGENT_DNS_PORT } from '../../plan/dns.js';
import { planCapture } from '../../plan/plan-capture.js';
import { parseSavedRules } from '../../state/rule-parser.js';
import { processRunner } from '../../exec/process-runner.js';
import { EXIT, loadConfiguration, type CliDeps, type CliIo } from '../main.js';

/** explain's own flags: those taking a value, and switches. */
const VALUE_FLAGS = [
  'direction',
  'protocol',
  'src',
  'dst',
  'uid',
  'gid',
  'in-interface',
  'out-interface',
  'from-save',
] as const;
const SWITCHES = ['json', 'report', 'from-live', 'help'] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

export interface ExplainArgs {
  readonly values: Partial<Record<ValueFlag, string>>;
  /** `--from-save`, which may be given once per dump (an iptables-save and an ip6tables-save). */
  readonly saves: readonly string[];
  readonly json: boolean;
  readonly report: boolean;
  readonly fromLive: boolean;
  readonly help: boolean;
  /** Everything else: the capture flags, read as a run reads them. */
  readonly rest: readonly string[];
}

/** Splits explain's flags (`--flag value` or `--flag=value`) from the capture flags. */
export function splitArgs(argv: readonly string[]): ExplainArgs {
  const values: Partial<Record<ValueFlag, string>> = {};
  const saves: string[] = [];
  const switches = new Set<string>();
  const rest: string[] = [];
  const issues: Issue[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    const eq = token.indexOf('=');
    const name = (eq > 0 ? token.slice(0, eq) : token).replace(/^--/, '');
    if (token === '-h' || (token.startsWith('--') && (SWITCHES as readonly string[]).includes(name))) {
      if (eq > 0) issues.push({ source: `--${name}`, value: token.slice(eq + 1), message: 'takes no value' });
      switches.add(token === '-h' ? 'help' : name);
    } else if (token.startsWith('--') && (VALUE_FLAGS as readonly string[]).includes(name)) {
      const value = eq > 0 ? token.slice(eq + 1) : argv[++i];
      if (value === undefined) issues.push({ source: `--${name}`, value: '', message: 'needs a value' });
      else if (name === 'from-save') saves.push(value);
      else values[name as ValueFlag] = value;
    } else rest.push(token);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    values,
    saves,
    json: switches.has('json'),
    report: switches.has('report'),
    fromLive: switches.has('from-live'),
    help: switches.has('help'),
    rest,
  };
}

const HELP = `istio-iptables explain [connection] [capture flags]

Walks one connection's first packet through the rules in the kernel's order and says which
rule decides its fate, and which setting produced that rule. No privileges needed for the plan.

Connection:
  --direction outbound|inbound   default outbound
  --protocol tcp|udp             default tcp
  --dst ADDR:PORT                needed; IPv6 as [ADDR]:PORT
  --src ADDR[:PORT]              default: the pod (--host-ip) for outbound, port 40000
  --uid N, --gid N               the sending process (outbound)
  --in-interface NAME            inbound; default eth0
  --out-interface NAME           outbound; default lo for loopback and the pod's own address, else eth0
Rules:
  (default)                      the plan for the capture flags, env and --config given
  --from-save FILE               an iptables-save or ip6tables-save dump (- reads stdin); repeat for both
  --from-live                    the live rules of this namespace, or of --network-namespace PATH
                                 (which alone implies it); needs the privileges iptables-save needs
Output:
  --report                       instead of one connection: the table of flows that matter for the settings
  --json                         one JSON document (schema in the README)

Capture flags are those of a run (see istio-iptables --help).
`;

function connectionFlags(values: ExplainArgs['values']): ConnectionFlags {
  return {
    ...(values.direction !== undefined ? { direction: values.direction } : {}),
    ...(values.protocol !== undefined ? { protocol: values.protocol } : {}),
    ...(values.src !== undefined ? { src: values.src } : {}),
    ...(values.dst !== undefined ? { dst: values.dst } : {}),
    ...(values.uid !== undefined ? { uid: values.uid } : {}),
    ...(values.gid !== undefined ? { gid: values.gid } : {}),
    ...(values['in-interface'] !== undefined ? { inInterface: values['in-interface'] } : {}),
    ...(values['out-interface'] !== undefined ? { outInterface: values['out-interface'] } : {}),
  };
}

/**
 * `--from-save FILE…`: each an iptables-save or ip6tables-save output (or both, one after the
 * other). Each "# Generated by" header starts a dump of its own, whose family it names.
 */
async function readSaves(files: readonly string[], io: CliIo): Promise<RuleSource> {
  const dumps = [];
  for (const file of files) {
    let text: string;
    try {
      text = file === '-' ? await io.readStdin() : await io.readFile(file);
    } catch (error) {
      throw new ConfigError([
        { source: '--from-save', value: file, message: `cannot read: ${(error as Error).message}` },
      ]);
    }
    const parts = text.split(/\n(?=# Generated by ip6?tables)/).map(parseSavedRules);
    if (parts.every((dump) => dump.tables.size === 0))
      throw new ConfigError([{ source: '--from-save', value: file, message: 'no iptables-save tables in it' }]);
    dumps.push(...parts);
  }
  return savedSource(`save ${files.map((f) => (f === '-' ? 'stdin' : f)).join(' + ')}`, dumps);
}

/** Runs `explain`; errors are thrown for main() to report. */
export async function explainCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CliIo,
  deps: CliDeps,
): Promise<number> {
  const args = splitArgs(argv);
  if (args.help) {
    io.stdout(HELP);
    return EXIT.ok;
  }
  const parsed = await loadConfiguration(args.rest, env, io, deps);
  if (parsed === 'help') {
    io.stdout(HELP);
    return EXIT.ok;
  }
  const { config, options } = parsed;
  let own = options.hostIp ? [options.hostIp] : [];
  const plan = planCapture(config);
  let source: RuleSource;
  if (args.saves.length > 0) source = withPlannedOrigins(await readSaves(args.saves, io), plan);
  else if (args.fromLive || options.networkNamespace) {
    const { readLiveRules } = await import('./explain-live.js');
    const live = await readLiveRules(processRunner, options);
    source = withPlannedOrigins(live.source, plan);
    own = [...own, ...live.addresses.filter((a) => a.value !== options.hostIp?.value)];
  } else source = planSource(plan);
  const ports: ListenerPorts = {
    outbound: config.outbound.proxyPort,
    inbound: config.inbound.capturePort,
    dns: AGENT_DNS_PORT,
  };
  if (args.report) {
    const lines = captureReport(config, source, own);
    io.stdout(
      args.json
        ? `${JSON.stringify(
            lines.map((line) => ({ flow: line.flow, ...walkJson(line.walk, source.name, ports) })),
            null,
            2,
          )}\n`
        : formatReport(lines, ports),
    );
    return EXIT.ok;
  }
  const walked = explainConnection(source, parseConnection(connectionFlags(args.values), own));
  io.stdout(
    args.json
      ? `${JSON.stringify(walkJson(walked, source.name, ports), null, 2)}\n`
      : formatWalk(walked, source.name, ports),
  );
  return EXIT.ok;
}
