/** Settings derived from the machine. Longer than ~200 lines: one case per derived setting and per failure. */
import { describe, expect, it } from 'vitest';
import { HostFactError } from '../errors.js';
import { deriveSettings, detectPodAddress, parseResolvConf, type HostFacts } from './derive.js';
import { resolveSettings } from './settings.js';
import { toCaptureConfig } from './to-capture-config.js';

/** HostFacts answering from fixed data and recording every call. */
function fakeFacts(
  data: {
    addresses?: string[];
    files?: Record<string, string>;
    users?: Record<string, number>;
    userLookup?: 'reject';
  } = {},
) {
  const calls: string[] = [];
  const facts: HostFacts = {
    async interfaceAddresses() {
      calls.push('interfaceAddresses');
      return data.addresses ?? [];
    },
    async readTextFile(path) {
      calls.push(`readTextFile ${path}`);
      const text = data.files?.[path];
      if (text === undefined) throw new Error(`ENOENT: ${path}`);
      return text;
    },
    async lookupUserId(name) {
      calls.push(`lookupUserId ${name}`);
      if (data.userLookup === 'reject') throw new Error('no user database');
      return data.users?.[name];
    },
  };
  return { facts, calls };
}

const settingsFrom = (flags: Record<string, string | boolean>) => resolveSettings({ flags, env: {} }).settings;

describe('detectPodAddress (spec §2.5 step 4)', () => {
  const detect = (addresses: string[], dualStack = false) => {
    const pod = detectPodAddress(addresses, dualStack);
    return pod && { hostIp: pod.hostIp.text, family: pod.hostIp.family, ipv6: pod.enableIpv6 };
  };

  it('without --dual-stack, the first usable address decides', () => {
    expect(detect(['10.1.2.3', 'fd00::1'])).toEqual({ hostIp: '10.1.2.3', family: 'ipv4', ipv6: false });
    expect(detect(['fd00::1', '10.1.2.3'])).toEqual({ hostIp: 'fd00::1', family: 'ipv6', ipv6: true });
  });

  it('with --dual-stack, any usable IPv6 address enables IPv6, and the pod IP is still the first address', () => {
    expect(detect(['10.1.2.3', 'fd00::1'], true)).toEqual({ hostIp: '10.1.2.3', family: 'ipv4', ipv6: true });
    expect(detect(['10.1.2.3', '10.9.9.9'], true)).toEqual({ hostIp: '10.1.2.3', family: 'ipv4', ipv6: false });
    expect(detect(['fd00::1'], true)).toEqual({ hostIp: 'fd00::1', family: 'ipv6', ipv6: true });
  });

  it('skips loopback, link-local unicast and link-local multicast addresses', () => {
    const skipped = [
      '127.0.0.1',
      '127.9.9.9',
      '::1',
      '169.254.1.1',
      'fe80::1',
      'fe80::1%eth0',
      'febf::ffff',
      '224.0.0.251',
      'ff02::1',
    ];
    expect(detect([...skipped, '10.0.0.5', 'fd00::5'])).toEqual({ hostIp: '10.0.0.5', family: 'ipv4', ipv6: false });
    expect(detect([...skipped, 'fd00::5', '10.0.0.5'])).toEqual({ hostIp: 'fd00::5', family: 'ipv6', ipv6: true });
    expect(detect([...skipped, '10.0.0.5', 'fd00::5'], true)).toEqual({
      hostIp: '10.0.0.5',
      family: 'ipv4',
      ipv6: true,
    });
    expect(detect(skipped)).toBeUndefined();
    expect(detect(skipped, true)).toBeUndefined();
  });

  it('keeps addresses just outside the skipped ranges', () => {
    expect(detect(['169.253.255.255'])?.hostIp).toBe('169.253.255.255');
    expect(detect(['169.255.0.1'])?.hostIp).toBe('169.255.0.1');
    expect(detect(['fec0::1'])).toEqual({ hostIp: 'fec0::1', family: 'ipv6', ipv6: true });
  });

  it('treats IPv4-mapped IPv6 addresses as IPv4', () => {
    expect(detect(['::ffff:10.1.2.3', 'fd00::1'])).toEqual({ hostIp: '10.1.2.3', family: 'ipv4', ipv6: false });
    expect(detect(['::ffff:10.1.2.3'], true)).toEqual({ hostIp: '10.1.2.3', family: 'ipv4', ipv6: false });
    // mapped loopback is loopback
    expect(detect(['::ffff:127.0.0.1', 'fd00::1'])).toEqual({ hostIp: 'fd00::1', family: 'ipv6', ipv6: true });
  });

  it('prints the pod IP canonically and ignores what is not an address', () => {
    expect(detect(['not-an-ip', 'FD00:0:0::1'])?.hostIp).toBe('fd00::1');
    expect(detect([])).toBeUndefined();
  });
});

describe('parseResolvConf', () => {
  it('takes every nameserver in order, split by family, canonically spelled', () => {
    const text = [
      '# nameserver 192.0.2.1',
      'search default.svc.cluster.local svc.cluster.local',
      'nameserver 10.96.0.10',
      'nameserver ::127.0.0.53',
      '  nameserver\t2001:DB8:0::53  ',
      'nameserver not-an-address',
      'nameserver',
      'nameservers 192.0.2.2',
      '; nameserver 192.0.2.3',
      'nameserver 10.96.0.11\r',
      'nameserver ::FFFF:10.0.0.1',
      'options ndots:5',
    ].join('\n');
    expect(parseResolvConf(text)).toEqual({
      v4: ['10.96.0.10', '10.96.0.11'],
      v6: ['::7f00:35', '2001:db8::53', '::ffff:10.0.0.1'],
      zoned: [],
    });
  });

  it('returns zoned IPv6 servers apart, with their line (upstream would keep them; ip6tables cannot)', () => {
    const text = 'nameserver 10.0.0.1\n  nameserver fe80::1%eth0  \nnameserver 10.0.0.2%eth0\nnameserver fe80::2%\n';
    expect(parseResolvConf(text)).toEqual({
      v4: ['10.0.0.1'],
      v6: [],
      zoned: [{ line: 2, text: 'nameserver fe80::1%eth0' }],
    });
  });

  it('returns empty lists for a file without nameservers', () => {
    expect(parseResolvConf('search local\n')).toEqual({ v4: [], v6: [], zoned: [] });
  });
});

describe('deriveSettings', () => {
  describe('proxy UID and GID', () => {
    it('falls back to 1337 when ENVOY_USER (default istio-proxy) is not a user, and copies it to the GID', async () => {
      const { facts, calls } = fakeFacts();
      const { settings } = await deriveSettings(settingsFrom({ 'enable-inbound-ipv6': false }), {}, facts);
      expect(calls).toEqual(['lookupUserId istio-proxy']);
      expect(settings['proxy-uid'].value).toBe('1337');
      expect(settings['proxy-gid'].value).toBe('1337');
    });

    it('falls back to 1337 when the lookup itself fails', async () => {
      const { facts } = fakeFacts({ userLookup: 'reject' });
      const { settings, error } = await deriveSettings(settingsFrom({ 'enable-inbound-ipv6': false }), {}, facts);
      expect(settings['proxy-uid'].value).toBe('1337');
      expect(error).toBeUndefined();
    });

    it("uses the user's UID, looked up by ENVOY_USER", async () => {
      const { facts, calls } = fakeFacts({ users: { envoy: 101, 'istio-proxy': 1500 } });
      const withEnv = await deriveSettings(
        settingsFrom({ 'enable-inbound-ipv6': false }),
        { ENVOY_USER: 'envoy' },
        facts,
      );
      expect(withEnv.settings['proxy-uid'].value).toBe('101');
      expect(withEnv.settings['proxy-gid'].value).toBe('101');
      const byDefault = await deriveSettings(settingsFrom({ 'enable-inbound-ipv6': false }), {}, facts);
      expect(byDefault.settings['proxy-uid'].value).toBe('1500');
      expect(calls).toEqual(['lookupUserId envoy', 'lookupUserId istio-proxy']);
    });

    it('does not look anything up when the UID is given, and copies a UID list to the GID verbatim', async () => {
      const { facts, calls } = fakeFacts();
      const { settings } = await deriveSettings(
        settingsFrom({ 'enable-inbound-ipv6': false, 'proxy-uid': '3,4' }),
        {},
        facts,
      );
      expect(calls).toEqual([]);
      expect(settings['proxy-gid'].value).toBe('3,4');
    });

    it('keeps a given GID', async () => {
      const { facts } = fakeFacts();
      const { settings } = await deriveSettings(
        settingsFrom({ 'enable-inbound-ipv6': false, 'proxy-uid': '3', 'proxy-gid': '7' }),
        {},
        facts,
      );
      expect(settings['proxy-gid'].value).toBe('7');
    });
  });

  describe('IPv6 enablement and pod IP', () => {
    it('derives both from the interface addresses when not given', async () => {
      const { facts, calls } = fakeFacts({ addresses: ['127.0.0.1', 'fd00::7', '10.0.0.7'] });
      const { settings } = await deriveSettings(settingsFrom({ 'proxy-uid': '1337' }), {}, facts);
      expect(calls).toEqual(['interfaceAddresses']);
      expect(settings['enable-inbound-ipv6'].value).toBe(true);
      expect(settings['host-ip'].value).toBe('fd00::7');
    });

    it('honours --dual-stack', async () => {
      const { facts } = fakeFacts({ addresses: ['10.0.0.7', 'fd00::7'] });
      const plain = await deriveSettings(settingsFrom({ 'proxy-uid': '1337' }), {}, facts);
      const dual = await deriveSettings(settingsFrom({ 'proxy-uid': '1337', 'dual-stack': true }), {}, facts);
      expect(plain.settings['enable-inbound-ipv6'].value).toBe(false);
      expect(dual.settings['enable-inbound-ipv6'].value).toBe(true);
      expect(dual.settings['host-ip'].value).toBe('10.0.0.7');
    });

    it('reports a HostFactError when no address is usable', async () => {
      const { facts } = fakeFacts({ addresses: ['127.0.0.1', 'fe80::1'] });
      const { error } = await deriveSettings(settingsFrom({ 'proxy-uid': '1337' }), {}, facts);
      expect(error).toBeInstanceOf(HostFactError);
      expect(error?.message).toContain('--enable-inbound-ipv6');
    });

    it('does not ask the machine when IPv6 enablement is given', async () => {
      const { facts, calls } = fakeFacts();
      await deriveSettings(settingsFrom({ 'proxy-uid': '1337', 'enable-inbound-ipv6': true }), {}, facts);
      expect(calls).toEqual([]);
    });

    it('still finds the pod IP for --run-validation without --host-ip', async () => {
      const { facts, calls } = fakeFacts({ addresses: ['10.0.0.7'] });
      const { settings } = await deriveSettings(
        settingsFrom({ 'proxy-uid': '1337', 'enable-inbound-ipv6': false, 'run-validation': true }),
        {},
        facts,
      );
      expect(calls).toEqual(['interfaceAddresses']);
      expect(settings['host-ip'].value).toBe('10.0.0.7');
      expect(settings['enable-inbound-ipv6'].value).toBe(false);
    });
  });

  describe('warnings where traffic would bypass the proxy', () => {
    it('an IPv4-first pod with IPv6 addresses and IPv6 derived off', async () => {
      const { facts } = fakeFacts({ addresses: ['192.0.2.10', 'fe80::1', '2001:db8::10'] });
      const { warnings } = await deriveSettings(settingsFrom({ 'proxy-uid': '1337' }), {}, facts);
      expect(warnings.join('\n')).toContain('IPv6 addresses (2001:db8::10)');
      expect(warnings.join('\n')).toContain('--dual-stack');
      for (const flags of [{ 'dual-stack': true }, { 'enable-inbound-ipv6': false }]) {
        const quiet = await deriveSettings(settingsFrom({ 'proxy-uid': '1337', ...flags }), {}, facts);
        expect(quiet.warnings).toEqual([]);
      }
      const v4only = fakeFacts({ addresses: ['192.0.2.10', 'fe80::1'] });
      expect((await deriveSettings(settingsFrom({ 'proxy-uid': '1337' }), {}, v4only.facts)).warnings).toEqual([]);
    });

    it("DNS servers from this process's resolv.conf while working in another namespace", async () => {
      const { facts } = fakeFacts({ files: { '/etc/resolv.conf': 'nameserver 192.0.2.53\n', '/pod.conf': '' } });
      const base = { 'proxy-uid': '1337', 'enable-inbound-ipv6': false, 'redirect-dns': true };
      const outside = { ...base, 'network-namespace': '/var/run/netns/pod' };
      const { warnings } = await deriveSettings(settingsFrom(outside), {}, facts);
      expect(warnings.join('\n')).toContain("read from this process's /etc/resolv.conf, not the pod's");
      for (const flags of [base, { ...outside, 'resolv-conf': '/pod.conf' }, { ...outside, 'dns-servers-v4': '' }]) {
        expect((await deriveSettings(settingsFrom(flags), {}, facts)).warnings).toEqual([]);
      }
    });
  });

  describe('DNS servers', () => {
    const base = { 'proxy-uid': '1337', 'enable-inbound-ipv6': true, 'redirect-dns': true } as const;
    const resolvConf = 'nameserver 10.96.0.10\nnameserver ::127.0.0.53\n';

    it('reads /etc/resolv.conf (or --resolv-conf) when DNS capture needs servers', async () => {
      const { facts, calls } = fakeFacts({
        files: { '/etc/resolv.conf': resolvConf, '/tmp/r.conf': 'nameserver 10.0.0.53\n' },
      });
      const byDefault = await deriveSettings(settingsFrom(base), {}, facts);
      expect(byDefault.settings['dns-servers-v4'].value).toEqual(['10.96.0.10']);
      expect(byDefault.settings['dns-servers-v6'].value).toEqual(['::7f00:35']);
      const byFlag = await deriveSettings(settingsFrom({ ...base, 'resolv-conf': '/tmp/r.conf' }), {}, facts);
      expect(byFlag.settings['dns-servers-v4'].value).toEqual(['10.0.0.53']);
      expect(byFlag.settings['dns-servers-v6'].value).toEqual([]);
      expect(calls).toEqual(['readTextFile /etc/resolv.conf', 'readTextFile /tmp/r.conf']);
    });

    it.each([
      ['--dns-servers-v4 ""', { 'dns-servers-v4': '' }],
      ['--dns-servers-v6 ""', { 'dns-servers-v6': '' }],
      ['--dns-servers-v6 fd00::53', { 'dns-servers-v6': 'fd00::53' }],
    ])('%s, given even empty, replaces resolv.conf', async (_title, flags) => {
      const { facts, calls } = fakeFacts({ files: { '/etc/resolv.conf': resolvConf } });
      const { settings, error } = await deriveSettings(settingsFrom({ ...base, ...flags }), {}, facts);
      expect(calls).toEqual([]);
      expect(error).toBeUndefined();
      const parsed = toCaptureConfig(settings);
      const servers = parsed.config.dns.mode === 'servers' ? parsed.config.dns.servers.map((s) => s.text) : [];
      expect(servers).toEqual('dns-servers-v6' in flags && flags['dns-servers-v6'] !== '' ? ['fd00::53'] : []);
    });

    it('an empty --dns-servers-v4 with nothing else switches DNS capture off, with a warning', async () => {
      const { facts } = fakeFacts({ files: { '/etc/resolv.conf': resolvConf } });
      const { settings } = await deriveSettings(settingsFrom({ ...base, 'dns-servers-v4': '' }), {}, facts);
      const parsed = toCaptureConfig(settings);
      expect(parsed.config.dns).toEqual({ mode: 'off' });
      expect(parsed.warnings.join('\n')).toContain('DNS capture is disabled');
    });

    it.each([
      ['DNS capture is off', { 'redirect-dns': false }],
      ['--capture-all-dns is on', { 'capture-all-dns': true }],
    ])('does not read resolv.conf when %s', async (_title, flags) => {
      const { facts, calls } = fakeFacts();
      const { error } = await deriveSettings(settingsFrom({ ...base, ...flags }), {}, facts);
      expect(calls).toEqual([]);
      expect(error).toBeUndefined();
    });

    it('reports an unreadable resolv.conf as a HostFactError naming the file', async () => {
      const { facts } = fakeFacts();
      const { error } = await deriveSettings(settingsFrom({ ...base, 'resolv-conf': '/nope/resolv.conf' }), {}, facts);
      expect(error).toBeInstanceOf(HostFactError);
      expect(error?.message).toContain('/nope/resolv.conf');
    });
  });
});
