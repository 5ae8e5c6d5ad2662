/**
 * Settings upstream derives from the machine when nothing gives them: IPv6 enablement and
 * the pod IP from the interface addresses, DNS servers from resolv.conf, the proxy UID from
 * the user database. The machine is reached only through `HostFacts`, so this stays testable
 * and, with `--network-namespace`, can read the target namespace instead of our own.
 */
import { HostFactError } from '../errors.js';
import { parseIpAddress, type IpAddress } from '../model/network.js';
import type { Origin, RawSetting, RawSettings, SettingName } from './settings.js';

/** What derivation may ask of the machine. */
export interface HostFacts {
  /** Every interface address (no prefix length), in kernel enumeration order. */
  interfaceAddresses(): Promise<readonly string[]>;
  readTextFile(path: string): Promise<string>;
  /** The UID of a user in the user database, or undefined when there is no such user. */
  lookupUserId(name: string): Promise<number | undefined>;
}

/** Upstream's fallback when ENVOY_USER cannot be resolved. */
const DEFAULT_PROXY_UID = '1337';

function isUsable(address: IpAddress): boolean {
  const v = address.value;
  if (address.family === 'ipv4') {
    // loopback 127/8, link-local 169.254/16, link-local multicast 224.0.0/24
    return v >> 24n !== 127n && v >> 16n !== 0xa9fen && v >> 8n !== 0xe00000n;
  }
  // loopback ::1, link-local fe80::/10, link-local multicast ffX2::/16 (any flags, as Go's test)
  return v !== 1n && v >> 118n !== 0x3fan && ((v >> 112n) & 0xff0fn) !== 0xff02n;
}

/** IPv4-mapped IPv6 addresses count as IPv4, as in Go's `Unmap`. */
function unmap(address: IpAddress): IpAddress {
  if (address.family === 'ipv6' && address.value >> 32n === 0xffffn) {
    const text = address.text.slice(address.text.lastIndexOf(':') + 1);
    const v4 = parseIpAddress(text.includes('.') ? text : '', { canonical: true });
    if (typeof v4 !== 'string') return v4;
  }
  return address;
}

/**
 * Upstream's rule: without dual-stack the first usable address decides; with it, addresses
 * are collected up to the first IPv6 one, and the pod IP is the first collected.
 */
export function detectPodAddress(
  addresses: readonly string[],
  dualStack: boolean,
): { hostIp: IpAddress; enableIpv6: boolean; ipv6Addresses: readonly string[] } | undefined {
  const usable = addresses.flatMap((text) => {
    const parsed = parseIpAddress(text.split('%')[0] ?? '', { canonical: true });
    return typeof parsed === 'string' ? [] : [unmap(parsed)].filter(isUsable);
  });
  const first = usable[0];
  if (!first) return undefined;
  const ipv6Addresses = usable.filter((a) => a.family === 'ipv6').map((a) => a.text);
  if (!dualStack) return { hostIp: first, enableIpv6: first.family === 'ipv6', ipv6Addresses };
  return { hostIp: first, enableIpv6: ipv6Addresses.length > 0, ipv6Addresses };
}

/** A `nameserver` line upstream would keep but whose rules ip6tables rejects. */
export interface ZonedNameserver {
  /** 1-based line number in the file. */
  readonly line: number;
  readonly text: string;
}

/** An IPv6 address with a non-empty zone (`fe80::1%eth0`), which Go's address parser accepts. */
function isZonedIpv6(value: string): boolean {
  const percent = value.indexOf('%');
  if (percent <= 0 || percent === value.length - 1) return false;
  const address = parseIpAddress(value.slice(0, percent), { canonical: true });
  return typeof address !== 'string' && address.family === 'ipv6';
}

/**
 * `nameserver` entries, canonicalised; entries that are not addresses are dropped, as
 * upstream drops them. Zoned IPv6 entries are returned apart: upstream keeps them, and its
 * restore then fails on `-d ADDRESS%ZONE/128`.
 */
export function parseResolvConf(text: string): { v4: string[]; v6: string[]; zoned: ZonedNameserver[] } {
  const v4: string[] = [];
  const v6: string[] = [];
  const zoned: ZonedNameserver[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    const [keyword, value] = line.trim().split(/\s+/);
    if (keyword !== 'nameserver' || !value) continue;
    if (isZonedIpv6(value)) zoned.push({ line: index + 1, text: line.trim() });
    const address = parseIpAddress(value, { canonical: true });
    if (typeof address === 'string') continue;
    (address.family === 'ipv4' ? v4 : v6).push(address.text);
  }
  return { v4, v6, zoned };
}

function zonedNameserverError(path: string, entry: ZonedNameserver): HostFactError {
  return new HostFactError(
    `${path} line ${entry.line}: "${entry.text}": a DNS server with a zone cannot be captured ` +
      `(ip6tables rejects "-d ADDRESS%ZONE/128", so upstream's restore fails); ` +
      'pass --dns-servers-v4/--dns-servers-v6 without it, or --capture-all-dns',
  );
}

/** The proxy user's UID (ENVOY_USER, else istio-proxy) from the user database, or upstream's fallback. */
async function proxyUid(env: Readonly<Record<string, string | undefined>>, facts: HostFacts): Promise<string> {
  const user = env.ENVOY_USER ?? 'istio-proxy';
  const uid = await facts.lookupUserId(user).catch(() => undefined);
  return uid === undefined ? DEFAULT_PROXY_UID : String(uid);
}

/**
 * Fills in what was not given. Never throws: a fact that cannot be had is returned as
 * `error`, so that input problems can be reported first.
 */
export async function deriveSettings(
  settings: RawSettings,
  env: Readonly<Record<string, string | undefined>>,
  facts: HostFacts,
): Promise<{ settings: RawSettings; error?: HostFactError; warnings: string[] }> {
  const warnings: string[] = [];
  const derived: Partial<Record<SettingName, RawSetting>> = {};
  const set = (name: SettingName, value: string | boolean | readonly string[], origin: string) => {
    derived[name] = { value, origin: { kind: 'derived', name: origin } satisfies Origin };
  };
  const flag = (name: SettingName) => settings[name].value === true;
  let error: HostFactError | undefined;

  if (settings['proxy-uid'].value === '') set('proxy-uid', await proxyUid(env, facts), 'ENVOY_USER');
  if (settings['proxy-gid'].value === '')
    set('proxy-gid', derived['proxy-uid']?.value ?? settings['proxy-uid'].value ?? '', '--proxy-uid');

  const needPodAddress =
    settings['enable-inbound-ipv6'].value === undefined ||
    (flag('run-validation') && settings['host-ip'].value === undefined);
  if (needPodAddress) {
    const pod = detectPodAddress(await facts.interfaceAddresses(), flag('dual-stack'));
    if (!pod) {
      error = new HostFactError(
        'no usable local IP address found to decide whether IPv6 is enabled; pass --enable-inbound-ipv6=true or --enable-inbound-ipv6=false',
      );
      // A placeholder, so that validation can still report input problems first.
      if (settings['enable-inbound-ipv6'].value === undefined) set('enable-inbound-ipv6', false, 'pod addresses');
    } else {
      if (settings['enable-inbound-ipv6'].value === undefined) {
        set('enable-inbound-ipv6', pod.enableIpv6, 'pod addresses');
        if (!pod.enableIpv6 && pod.ipv6Addresses.length > 0)
          warnings.push(
            `the pod has IPv6 addresses (${pod.ipv6Addresses.join(', ')}) but its first address is IPv4, so IPv6 rules are off and IPv6 traffic bypasses the proxy; pass --dual-stack or --enable-inbound-ipv6=true to capture it (or --enable-inbound-ipv6=false to say this is intended)`,
          );
      }
      if (settings['host-ip'].value === undefined) set('host-ip', pod.hostIp.text, 'pod addresses');
    }
  }

  const serversGiven = settings['dns-servers-v4'].value !== undefined || settings['dns-servers-v6'].value !== undefined;
  if (flag('redirect-dns') && !flag('capture-all-dns') && !serversGiven) {
    const path = String(settings['resolv-conf'].value);
    try {
      const { v4, v6, zoned } = parseResolvConf(await facts.readTextFile(path));
      set('dns-servers-v4', v4, path);
      set('dns-servers-v6', v6, path);
      if (settings['network-namespace'].value && settings['resolv-conf'].origin.kind === 'default')
        warnings.push(
          `DNS servers were read from this process's ${path}, not the pod's (--network-namespace works in the pod's network, not its files): DNS aimed at the pod's servers may bypass the proxy; pass --dns-servers-v4/--dns-servers-v6, --resolv-conf or --capture-all-dns`,
        );
      const [first] = zoned;
      if (first) error ??= zonedNameserverError(path, first);
    } catch (cause) {
      error ??= new HostFactError(
        `failed to read DNS servers from ${path}: ${(cause as Error).message}; pass --dns-servers-v4/--dns-servers-v6 to skip it`,
        { cause },
      );
    }
  }
  for (const name of ['dns-servers-v4', 'dns-servers-v6'] as const) {
    if (settings[name].value === undefined && !derived[name]) set(name, [], 'not given');
  }
  return { settings: { ...settings, ...derived }, warnings, ...(error ? { error } : {}) };
}
