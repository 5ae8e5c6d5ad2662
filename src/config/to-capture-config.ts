/**
 * Raw settings → `CaptureConfig` + `RunOptions`. Every value is validated here, and every
 * problem is reported at once, naming the flag, environment variable or config key it came
 * from. Nothing that passes can put text into a restore payload that the planner did not
 * mean: ports are numbers, addresses are re-spelled or checked character by character,
 * names are checked against the Linux rules.
 * Longer than ~200 lines because it is the one place settings become typed values: split, a
 * check and the flag it reports would sit in different files.
 */
import type { Issue } from '../errors.js';
import { ConfigError } from '../errors.js';
import { FAMILY, type IpFamily } from '../model/family.js';
import {
  parseCidr,
  parseDecimal,
  parseIpAddress,
  type Cidr,
  type IpAddress,
  type PortRange,
} from '../model/network.js';
import { checkInterfaceName, checkOwnerId } from '../model/names.js';
import { parsePortItem, parseTunnelPort } from '../model/ports.js';
import type { CaptureConfig, DnsCapture, Interception, RunOptions, Selection } from './capture-config.js';
import { describeOrigin, type RawSettings, type SettingName } from './settings.js';
import { parseGoDuration } from './duration.js';
import { parseGoUint } from './go-uint.js';

/** Why a zoned DNS server is refused: ip6tables cannot parse the rule upstream would write. */
const ZONE_REFUSED =
  'a zone (%IFACE) is not accepted: ip6tables rejects "-d ADDRESS%IFACE/128", so upstream\'s restore fails; give the address without its zone';

/** Upstream's limit on the owner-group include list. */
const MAX_OWNER_GROUPS = 64;
/** Route tables the kernel reserves: default (253), main (254), local (255); 0 is unspecified. */
const RESERVED_ROUTE_TABLES = new Set([0, 253, 254, 255]);

export interface ParsedConfig {
  readonly config: CaptureConfig;
  readonly options: RunOptions;
  /** Things worth telling the user that do not stop the run. */
  readonly warnings: readonly string[];
  /** The settings these were made from, with where each came from (for the start-up dump). */
  readonly settings: RawSettings;
}

/**
 * Upstream copies list items untrimmed, and iptables-restore splits its lines on spaces, so an
 * item padded with spaces (`-c "eth0, eth1"`) works there; it is checked without the padding
 * and kept as written. Other whitespace is refused by the check itself.
 */
function checkPadded(item: string, check: (core: string) => string | undefined): string | undefined {
  const core = item.replace(/^ +| +$/g, '');
  return core === '' ? check(item) : check(core);
}

/** Reads settings and records issues; each getter returns a usable fallback on failure. */
class SettingsReader {
  readonly issues: Issue[] = [];
  constructor(private readonly settings: RawSettings) {}

  fail(name: SettingName, message: string, value?: string): void {
    const raw = this.settings[name];
    const shown = value ?? (Array.isArray(raw.value) ? raw.value.join(',') : String(raw.value));
    this.issues.push({ source: describeOrigin(raw.origin), value: shown, message });
  }

  string(name: SettingName): string {
    const value = this.settings[name].value;
    if (typeof value === 'string') return value;
    if (Array.isArray(value)) return value.join(',');
    this.fail(name, 'expected a string');
    return '';
  }

  boolean(name: SettingName): boolean {
    const value = this.settings[name].value;
    if (typeof value === 'boolean') return value;
    this.fail(name, 'expected a boolean');
    return false;
  }

  isSet(name: SettingName): boolean {
    return this.settings[name].value !== undefined;
  }

  /** Comma list, empty items dropped (as upstream); a config-file array is taken as is. */
  list(name: SettingName): string[] {
    const value = this.settings[name].value;
    if (Array.isArray(value)) return [...value];
    // An optional list nobody gave (DNS servers without derivation) is an empty one.
    if (value === undefined) return [];
    return this.string(name)
      .split(',')
      .filter((item) => item !== '');
  }

  port(name: SettingName): number {
    const text = this.string(name);
    const port = parseDecimal(text, 65535);
    if (port === undefined || port === 0) {
      this.fail(name, 'expected a port 1-65535');
      return 1;
    }
    return port;
  }

  /** The tunnel port (`-e`): a port or a closed range, kept as written. */
  tunnelPort(name: SettingName): PortRange {
    const port = parseTunnelPort(this.string(name));
    if (typeof port === 'string') {
      this.fail(name, port);
      return { first: 1, last: 1 };
    }
    return port;
  }

  ports(name: SettingName, items = this.list(name)): PortRange[] {
    return items.flatMap((item) => {
      const port = parsePortItem(item);
      if (typeof port === 'string') {
        this.fail(name, port, item);
        return [];
      }
      return [port];
    });
  }

  cidrs(name: SettingName, items: readonly string[]): Cidr[] {
    return items.flatMap((item) => {
      const cidr = item === '*' ? '"*" cannot be part of a list' : parseCidr(item);
      if (typeof cidr === 'string') {
        this.fail(name, `not a CIDR: ${cidr}`, item);
        return [];
      }
      return [cidr];
    });
  }

  interfaces(name: SettingName): string[] {
    return this.list(name).filter((item) => {
      const problem = checkPadded(item, checkInterfaceName);
      if (problem) this.fail(name, problem, item);
      return !problem;
    });
  }

  /** UIDs or GIDs; a list with no item (`-u ,`) is upstream's "no rules for these". */
  owners(name: SettingName): string[] {
    // A GID list copied from the UIDs was checked as the UIDs: do not report it twice.
    const copied = this.settings[name].origin.kind === 'derived';
    return this.list(name).filter((item) => {
      const problem = checkPadded(item, checkOwnerId);
      if (problem && !copied) this.fail(name, problem, item);
      return !problem;
    });
  }

  /** The number, or the problem (not recorded: the caller decides whether it matters). */
  decimalOrProblem(name: SettingName, min: number, max: number, what: string): string | number {
    const n = parseDecimal(this.string(name), max);
    return n === undefined || n < min ? `expected ${what}: a decimal number ${min}-${max}` : n;
  }

  addresses(name: SettingName, family: IpFamily): IpAddress[] {
    return this.list(name).flatMap((item) => {
      const address = parseIpAddress(item, { canonical: false });
      if (typeof address === 'string' && item.includes('%')) {
        this.fail(name, ZONE_REFUSED, item);
        return [];
      }
      if (typeof address === 'string') {
        this.fail(name, address, item);
        return [];
      }
      if (address.family !== family) {
        this.fail(name, `expected an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`, item);
        return [];
      }
      return [address];
    });
  }
}

function proxyOwners(r: SettingsReader, warnings: string[]): CaptureConfig['proxy'] {
  const uids = r.owners('proxy-uid');
  const gids = r.owners('proxy-gid');
  if (uids.length === 0 && gids.length === 0 && r.issues.length === 0) {
    warnings.push(
      "--proxy-uid and --proxy-gid name no UID and no GID: the proxy's own traffic is not exempt from capture (as upstream)",
    );
  }
  return { uids, gids };
}

function inboundPorts(r: SettingsReader): Selection<PortRange> {
  const include = r.string('istio-inbound-ports');
  // Upstream ignores the exclude list unless the include list is exactly "*"; it is checked anyway.
  const except = r.ports('istio-local-exclude-ports');
  if (include === '') return { kind: 'none' };
  if (include === '*') return { kind: 'all', except };
  const items = r.list('istio-inbound-ports');
  if (items.includes('*')) r.fail('istio-inbound-ports', '"*" cannot be part of a list');
  return {
    kind: 'only',
    items: r.ports(
      'istio-inbound-ports',
      items.filter((item) => item !== '*'),
    ),
  };
}

/**
 * The TPROXY mark and route table: problems, or the values. Upstream reads them only when it
 * sets up TPROXY routes, so in REDIRECT mode they are not checked (a warning says so).
 */
function tproxySettings(r: SettingsReader): { mark: number | string; routeTable: number | string } {
  const mark = r.decimalOrProblem('istio-inbound-tproxy-mark', 1, 0xffffffff, 'a packet mark');
  const table = r.decimalOrProblem('istio-inbound-tproxy-route-table', 1, 0xffffffff, 'a route table');
  const routeTable =
    typeof table === 'number' && RESERVED_ROUTE_TABLES.has(table)
      ? "tables 253 (default), 254 (main) and 255 (local) are the kernel's own"
      : table;
  return { mark, routeTable };
}

function interception(r: SettingsReader, warnings: string[]): Interception {
  const { mark, routeTable } = tproxySettings(r);
  const mode = r.string('istio-inbound-interception-mode');
  switch (mode) {
    case '':
    case 'REDIRECT':
      for (const [name, value] of [
        ['istio-inbound-tproxy-mark', mark],
        ['istio-inbound-tproxy-route-table', routeTable],
      ] as const) {
        if (typeof value === 'string') warnings.push(`--${name} is not used in REDIRECT mode: ${value}`);
      }
      return { mode: 'redirect' };
    case 'TPROXY':
      if (typeof mark === 'string') r.fail('istio-inbound-tproxy-mark', mark);
      if (typeof routeTable === 'string') r.fail('istio-inbound-tproxy-route-table', routeTable);
      return {
        mode: 'tproxy',
        mark: typeof mark === 'number' ? mark : 1,
        routeTable: typeof routeTable === 'number' ? routeTable : 1,
      };
    default:
      // Upstream treats any other value (even "tproxy") as REDIRECT, silently.
      r.fail('istio-inbound-interception-mode', 'expected REDIRECT or TPROXY (upper case)');
      return { mode: 'redirect' };
  }
}

function outboundCidrs(r: SettingsReader): CaptureConfig['outbound']['cidrs'] {
  const excludeText = r.string('istio-service-exclude-cidr');
  if (excludeText === '*') r.fail('istio-service-exclude-cidr', '"*" cannot be excluded: it would exclude everything');
  const exclude =
    excludeText === '*' ? [] : r.cidrs('istio-service-exclude-cidr', r.list('istio-service-exclude-cidr'));
  const includeText = r.string('istio-service-cidr');
  const include = includeText === '*' ? 'all' : r.cidrs('istio-service-cidr', r.list('istio-service-cidr'));
  return { include, exclude };
}

function ownerGroups(r: SettingsReader): Selection<string> {
  const check = (name: SettingName, items: string[]) =>
    items.filter((item) => {
      const problem = checkPadded(item, checkOwnerId);
      if (problem) r.fail(name, problem, item);
      return !problem;
    });
  if (r.string('outbound-owner-groups') === '*') {
    return { kind: 'all', except: check('outbound-owner-groups-exclude', r.list('outbound-owner-groups-exclude')) };
  }
  const items = r.list('outbound-owner-groups');
  if (items.length > MAX_OWNER_GROUPS) {
    r.fail('outbound-owner-groups', `at most ${MAX_OWNER_GROUPS} groups, got ${items.length}`);
  }
  return { kind: 'only', items: check('outbound-owner-groups', items) };
}

function loopbackCidr(r: SettingsReader): Cidr {
  const cidr = parseCidr(r.string('host-ipv4-loopback-cidr'));
  if (typeof cidr === 'string') r.fail('host-ipv4-loopback-cidr', `not a CIDR: ${cidr}`);
  else if (cidr.family !== 'ipv4' || cidr.address.value >> 24n !== 127n)
    r.fail('host-ipv4-loopback-cidr', 'expected an IPv4 address inside 127.0.0.0/8');
  else if (cidr.prefixLength < 8) r.fail('host-ipv4-loopback-cidr', 'expected a prefix length 8-32');
  else return cidr;
  // Reported above; the configuration is refused, so this value is never planned with.
  return FAMILY.ipv4.loopback;
}

function dnsCapture(r: SettingsReader, warnings: string[]): DnsCapture {
  const servers = [...r.addresses('dns-servers-v4', 'ipv4'), ...r.addresses('dns-servers-v6', 'ipv6')];
  if (!r.boolean('redirect-dns')) return { mode: 'off' };
  if (r.boolean('capture-all-dns')) return { mode: 'all' };
  if (servers.length === 0) {
    warnings.push(
      '--redirect-dns is set, but --capture-all-dns is not and no DNS servers are known: DNS capture is disabled.',
    );
    return { mode: 'off' };
  }
  return { mode: 'servers', servers };
}

/**
 * `--iptables-version`: the text `iptables --version` prints, as Istio 1.20 took it. It must
 * hold a version (`v1.8.9`), with upstream's message otherwise; `nf_tables` in it means the nft
 * backend. Undefined when not given.
 */
function iptablesVersion(r: SettingsReader, forced: string): 'nft' | 'legacy' | undefined {
  const text = r.string('iptables-version');
  if (text === '') return undefined;
  if (!/v[0-9]+(\.[0-9]+)+/.test(text)) {
    r.fail('iptables-version', `no iptables version found: ${JSON.stringify(text)}`);
    return undefined;
  }
  const variant = text.includes('nf_tables') ? 'nft' : 'legacy';
  if (forced !== '' && forced !== variant)
    r.fail(
      'iptables-version',
      `names the ${variant} backend, but --force-iptables-binary=${forced} asks for ${forced}: give one of them, or both the same`,
    );
  return variant;
}

/** `--vklog`: klog's verbosity, a base-10 32-bit integer as pilot-agent parses it; nothing here uses it. */
function checkKlogVerbosity(r: SettingsReader): void {
  const text = r.string('vklog');
  const n = /^[+-]?[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= -(2 ** 31) && n < 2 ** 31)) r.fail('vklog', 'expected a whole number (klog verbosity, e.g. 2)');
}

function runOptions(r: SettingsReader): RunOptions {
  const runValidation = r.boolean('run-validation');
  // A uint16 flag upstream: pflag accepts Go's base prefixes (0x3a9a) and digit separators.
  const probePort = parseGoUint(r.string('iptables-probe-port'), 65535);
  if (probePort === undefined) r.fail('iptables-probe-port', 'expected a port 0-65535 (Go syntax: 15002, 0x3a9a)');
  if (runValidation && probePort === 0) r.fail('iptables-probe-port', '--run-validation needs a probe port 1-65535');
  const timeout = parseGoDuration(r.string('probe-timeout'));
  if (timeout === undefined) r.fail('probe-timeout', 'expected a duration such as 5s, 1500ms or 1m30s');
  const lockTimeout = parseGoDuration(r.string('lock-timeout'));
  if (lockTimeout === undefined) r.fail('lock-timeout', 'expected a duration such as 30s, 1500ms or 1m');
  const binary = r.string('force-iptables-binary');
  if (!['', 'legacy', 'nft'].includes(binary)) r.fail('force-iptables-binary', 'expected "legacy", "nft" or empty');
  const variant = iptablesVersion(r, binary);
  checkKlogVerbosity(r);
  const netns = r.string('network-namespace');
  if (netns !== '' && !netns.startsWith('/'))
    r.fail('network-namespace', 'expected an absolute path such as /var/run/netns/NAME or /proc/PID/ns/net');
  const hostIpText = r.isSet('host-ip') ? r.string('host-ip') : '';
  const hostIp = hostIpText === '' ? undefined : parseIpAddress(hostIpText, { canonical: true });
  if (typeof hostIp === 'string') r.fail('host-ip', hostIp);
  return {
    dryRun: r.boolean('dry-run'),
    skipRuleApply: r.boolean('skip-rule-apply'),
    runValidation,
    probePort: probePort ?? 0,
    probeTimeoutMs: (timeout ?? 0) / 1e6,
    ...(netns !== '' ? { networkNamespace: netns } : {}),
    cniMode: r.boolean('cni-mode'),
    lockTimeoutMs: (lockTimeout ?? 0) / 1e6,
    reconcile: r.boolean('reconcile'),
    cleanupOnly: r.boolean('cleanup-only'),
    forceApply: r.boolean('force-apply'),
    nativeNftables: r.boolean('native-nftables'),
    migrate: r.boolean('migrate'),
    iptables: variant ?? (binary === 'legacy' || binary === 'nft' ? binary : 'auto'),
    restoreFormat: r.boolean('restore-format'),
    ...(hostIp && typeof hostIp !== 'string' ? { hostIp } : {}),
  };
}

/**
 * Validates and converts. `enable-inbound-ipv6` and the proxy UID must have been derived
 * (see `deriveSettings`) or given.
 * @throws ConfigError listing every problem (plus `priorIssues`).
 */
export function toCaptureConfig(settings: RawSettings, priorIssues: readonly Issue[] = []): ParsedConfig {
  const r = new SettingsReader(settings);
  const warnings: string[] = [];
  const config: CaptureConfig = {
    families: r.boolean('enable-inbound-ipv6') ? ['ipv4', 'ipv6'] : ['ipv4'],
    proxy: proxyOwners(r, warnings),
    inbound: {
      ports: inboundPorts(r),
      capturePort: r.port('inbound-capture-port'),
      tunnelPort: r.tunnelPort('inbound-tunnel-port'),
      interception: interception(r, warnings),
    },
    outbound: {
      proxyPort: r.port('envoy-port'),
      cidrs: outboundCidrs(r),
      ports: { include: r.ports('istio-outbound-ports'), exclude: r.ports('istio-local-outbound-ports-exclude') },
      ownerGroups: ownerGroups(r),
    },
    dns: dnsCapture(r, warnings),
    interfaces: { exclude: r.interfaces('istio-exclude-interfaces'), virtual: r.interfaces('kube-virt-interfaces') },
    dropInvalid: r.boolean('drop-invalid'),
    hostIPv4LoopbackCidr: loopbackCidr(r),
    strict: r.boolean('strict'),
    compactRules: r.boolean('compact-rules'),
    traceLogging: r.boolean('iptables-trace-logging'),
  };
  const options = runOptions(r);
  r.boolean('dual-stack');
  const issues = [...priorIssues, ...r.issues];
  if (issues.length > 0) throw new ConfigError(issues);
  return { config, options, warnings, settings };
}
