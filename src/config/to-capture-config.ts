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
  checkInterfaceName,
  checkOwnerId,
  parseCidr,
  parseDecimal,
  parseIpAddress,
  parsePortRange,
  type Cidr,
  type IpAddress,
  type PortRange,
} from '../model/network.js';
import type { CaptureConfig, DnsCapture, Interception, RunOptions, Selection } from './capture-config.js';
import { describeOrigin, type RawSettings, type SettingName } from './settings.js';
import { parseGoDuration } from './duration.js';

/** Upstream's limit on the owner-group include list. */
const MAX_OWNER_GROUPS = 64;
/** Route tables the kernel reserves: default (253), main (254), local (255); 0 is unspecified. */
const RESERVED_ROUTE_TABLES = new Set([0, 253, 254, 255]);

export interface ParsedConfig {
  readonly config: CaptureConfig;
  readonly options: RunOptions;
  /** Things worth telling the user that do not stop the run. */
  readonly warnings: readonly string[];
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

  ports(name: SettingName, items = this.list(name)): PortRange[] {
    return items.flatMap((item) => {
      const port = parsePortRange(item);
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
      const problem = checkInterfaceName(item);
      if (problem) this.fail(name, problem, item);
      return !problem;
    });
  }

  owners(name: SettingName, kind: string): string[] {
    // A GID list copied from the UIDs was checked as the UIDs: do not report it twice.
    const copied = this.settings[name].origin.kind === 'derived';
    const items = this.list(name).filter((item) => {
      const problem = checkOwnerId(item);
      if (problem && !copied) this.fail(name, problem, item);
      return !problem;
    });
    if (this.list(name).length === 0) this.fail(name, `expected at least one ${kind}`);
    return items;
  }

  decimal(name: SettingName, min: number, max: number, what: string): number {
    const n = parseDecimal(this.string(name), max);
    if (n === undefined || n < min) {
      this.fail(name, `expected ${what}: a decimal number ${min}-${max}`);
      return min;
    }
    return n;
  }

  addresses(name: SettingName, family: IpFamily): IpAddress[] {
    return this.list(name).flatMap((item) => {
      const address = parseIpAddress(item, { canonical: false });
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

function interception(r: SettingsReader): Interception {
  const mark = r.decimal('istio-inbound-tproxy-mark', 1, 0xffffffff, 'a packet mark');
  const routeTable = r.decimal('istio-inbound-tproxy-route-table', 1, 0xffffffff, 'a route table');
  if (RESERVED_ROUTE_TABLES.has(routeTable)) {
    r.fail('istio-inbound-tproxy-route-table', "tables 253 (default), 254 (main) and 255 (local) are the kernel's own");
  }
  const mode = r.string('istio-inbound-interception-mode');
  switch (mode) {
    case '':
    case 'REDIRECT':
      return { mode: 'redirect' };
    case 'TPROXY':
      return { mode: 'tproxy', mark, routeTable };
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
      const problem = checkOwnerId(item);
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

function runOptions(r: SettingsReader): RunOptions {
  const runValidation = r.boolean('run-validation');
  const probePort = r.decimal('iptables-probe-port', 0, 65535, 'a port');
  if (runValidation && probePort === 0) r.fail('iptables-probe-port', '--run-validation needs a probe port 1-65535');
  const timeout = parseGoDuration(r.string('probe-timeout'));
  if (timeout === undefined) r.fail('probe-timeout', 'expected a duration such as 5s, 1500ms or 1m30s');
  const binary = r.string('force-iptables-binary');
  if (!['', 'legacy', 'nft'].includes(binary)) r.fail('force-iptables-binary', 'expected "legacy", "nft" or empty');
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
    probePort,
    probeTimeoutMs: (timeout ?? 0) / 1e6,
    ...(netns !== '' ? { networkNamespace: netns } : {}),
    cniMode: r.boolean('cni-mode'),
    reconcile: r.boolean('reconcile'),
    cleanupOnly: r.boolean('cleanup-only'),
    forceApply: r.boolean('force-apply'),
    nativeNftables: r.boolean('native-nftables'),
    iptables: binary === 'legacy' || binary === 'nft' ? binary : 'auto',
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
    proxy: { uids: r.owners('proxy-uid', 'UID'), gids: r.owners('proxy-gid', 'GID') },
    inbound: {
      ports: inboundPorts(r),
      capturePort: r.port('inbound-capture-port'),
      tunnelPort: r.port('inbound-tunnel-port'),
      interception: interception(r),
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
  };
  const options = runOptions(r);
  r.boolean('dual-stack');
  const issues = [...priorIssues, ...r.issues];
  if (issues.length > 0) throw new ConfigError(issues);
  return { config, options, warnings };
}
