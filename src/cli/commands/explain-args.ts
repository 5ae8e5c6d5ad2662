/** explain's command line: its own flags (the connection, the source, the output) and its help. */
import { ConfigError, type Issue } from '../../errors.js';
import type { ConnectionFlags } from '../../explain/connection.js';

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
  'live-seconds',
] as const;
const SWITCHES = ['json', 'report', 'from-live', 'live', 'help'] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

export interface ExplainArgs {
  readonly values: Partial<Record<ValueFlag, string>>;
  /** `--from-save`, which may be given once per dump (an iptables-save and an ip6tables-save). */
  readonly saves: readonly string[];
  readonly json: boolean;
  readonly report: boolean;
  readonly fromLive: boolean;
  readonly live: boolean;
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
    fromLive: switches.has('from-live') || switches.has('live'),
    live: switches.has('live'),
    help: switches.has('help'),
    rest,
  };
}

export const HELP = `istio-iptables explain [connection] [capture flags]

Walks one connection's first packet through the rules in the kernel's order and says which
rule decides its fate, and which setting produced that rule. No privileges needed for the plan.

Connection:
  --direction outbound|inbound   default outbound
  --protocol tcp|udp             default tcp
  --dst ADDR:PORT                needed; IPv6 as [ADDR]:PORT
  --src ADDR[:PORT]              default: the pod (--host-ip) for outbound, 203.0.113.7 for inbound; port 40000
  --uid N, --gid N               the sending process (outbound)
  --in-interface NAME            inbound; default eth0
  --out-interface NAME           outbound; default lo for loopback and the pod's own address, else eth0
Rules:
  (default)                      the plan for the capture flags, env and --config given
  --native-nftables              the plan, or the live rules, of native nftables mode (nft list ruleset)
  --from-save FILE               an iptables-save or ip6tables-save dump (- reads stdin); repeat for both;
                                 or an nft list ruleset listing, walked as nftables whatever the flags
  --from-live                    the live rules of this namespace, or of --network-namespace PATH
                                 (which alone implies it); needs the privileges iptables-save needs
  --live                         also ask the kernel: trace the connection's first packet and print
                                 its path (xtables-monitor --trace for IPv4 on the nft backend;
                                 nft monitor trace for IPv6 and native nftables)
  --live-seconds N               how long --live waits for the connection; default 10
Output:
  --report                       instead of one connection: the table of flows that matter for the settings
  --json                         one JSON document (schema in the README)

Capture flags are those of a run (see istio-iptables --help).
`;

export function connectionFlags(values: ExplainArgs['values']): ConnectionFlags {
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
