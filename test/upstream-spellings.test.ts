/**
 * Values upstream copies into its rules as written, pinned rule by rule (issue 16): one-port and
 * open port ranges, space-padded port items, owner ranges, `-u ,`, a tunnel-port range; the
 * IPv4-mapped loopback in -i; the zoned DNS server; and the settings upstream never reads in
 * REDIRECT mode. Each expected line is upstream's text (ISTIO_BEHAVIOR.md §3.3, §4.2, §5).
 */
import { describe, expect, it } from 'vitest';
import type { HostFacts } from '../src/config/derive.js';
import { forbiddenHostFacts, runCli } from './support/cli.js';

const BASE = ['--dry-run', '-u', '1337'];
const V4 = '--enable-inbound-ipv6=false';
const V6 = '--enable-inbound-ipv6=true';

async function dryRun(args: readonly string[], env: Record<string, string> = {}, host?: HostFacts) {
  const result = await runCli([...BASE, ...args], env, host ?? forbiddenHostFacts());
  expect(result.code, result.stderr).toBe(0);
  return { lines: result.stdout.split('\n'), stderr: result.stderr };
}

/** Lines of one family's payload. */
function section(lines: readonly string[], family: 'ipv4' | 'ipv6'): string[] {
  const start = lines.findIndex((line) => line.startsWith(`# ${family}: `));
  const end = lines.findIndex((line, i) => i > start && line.startsWith('# ip'));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

describe('a one-port range is printed as written (divergence 1)', () => {
  it.each([
    [
      ['-o', '51980:51980'],
      ['-A ISTIO_OUTPUT -p tcp --dport 51980:51980 -j RETURN', '-A ISTIO_OUTPUT -p udp --dport 51980:51980 -j RETURN'],
    ],
    [['-b', '51980:51980'], ['-A ISTIO_INBOUND -p tcp --dport 51980:51980 -j ISTIO_IN_REDIRECT']],
    [
      ['-b', '51980:51980', '-m', 'TPROXY'],
      [
        '-A ISTIO_INBOUND -p tcp --dport 51980:51980 -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT',
        '-A ISTIO_INBOUND -p tcp --dport 51980:51980 -j ISTIO_TPROXY',
      ],
    ],
    [['-b', '*', '-d', '51980:51980'], ['-A ISTIO_INBOUND -p tcp --dport 51980:51980 -j RETURN']],
    [['-q', '51980:51980'], ['-A ISTIO_OUTPUT -p tcp --dport 51980:51980 -j ISTIO_REDIRECT']],
  ])('%j', async (args, expected) => {
    const { lines } = await dryRun([V6, ...args]);
    for (const family of ['ipv4', 'ipv6'] as const) {
      const payload = section(lines, family);
      for (const line of expected) expect(payload).toContain(line);
      expect(payload.join('\n')).not.toMatch(/--dport 51980 /);
    }
  });
});

describe('other port spellings iptables reads as meant', () => {
  it('open ranges and space-padded items stay as written, in order, duplicates kept', async () => {
    const { lines } = await dryRun([V4, '-o', ':1000,2000:, 81,81', '-b', '80 ,80']);
    const payload = section(lines, 'ipv4');
    expect(payload.filter((line) => line.startsWith('-A ISTIO_OUTPUT -p tcp --dport'))).toEqual([
      '-A ISTIO_OUTPUT -p tcp --dport :1000 -j RETURN',
      '-A ISTIO_OUTPUT -p tcp --dport 2000: -j RETURN',
      '-A ISTIO_OUTPUT -p tcp --dport  81 -j RETURN',
      '-A ISTIO_OUTPUT -p tcp --dport 81 -j RETURN',
    ]);
    expect(payload.filter((line) => line.includes('ISTIO_IN_REDIRECT') && line.includes('--dport 80'))).toEqual([
      '-A ISTIO_INBOUND -p tcp --dport 80  -j ISTIO_IN_REDIRECT',
      '-A ISTIO_INBOUND -p tcp --dport 80 -j ISTIO_IN_REDIRECT',
    ]);
  });

  it('a tunnel-port range goes into the tunnel RETURN, the GID rule and the DNS multiport', async () => {
    const { lines } = await dryRun([V4, '-e', '15008:15009', '-g', '1338', '--redirect-dns', '--capture-all-dns']);
    const payload = section(lines, 'ipv4');
    expect(payload).toContain('-A ISTIO_INBOUND -p tcp --dport 15008:15009 -j RETURN');
    expect(payload).toContain(
      '-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008:15009 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT',
    );
    expect(payload).toContain(
      '-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008:15009 -m owner --gid-owner 1338 -j ISTIO_IN_REDIRECT',
    );
  });
});

describe('interface and owner items padded with spaces are copied as written', () => {
  it('-c "eth0, eth1" and -u "1337, 1338"', async () => {
    const { lines } = await dryRun([V4, '-c', 'eth0, eth1', '-u', '1337, 1338', '-g', ',']);
    expect(lines).toContain('-A PREROUTING -i  eth1 -j RETURN');
    expect(lines).toContain('-A OUTPUT -o  eth1 -j RETURN');
    expect(lines).toContain('-A ISTIO_OUTPUT -m owner --uid-owner  1338 -j RETURN');
  });

  it.each([
    ['-c', 'eth0,\teth1'],
    ['-c', 'eth0, '],
    ['-u', '1337,\t1338'],
  ])('%s %j (a tab, or only spaces) is still refused', async (flag, value) => {
    const result = await runCli([...BASE, V4, flag, value]);
    expect(result.code).toBe(2);
  });
});

describe('owners', () => {
  it('UID, GID and owner-group ranges are copied as written', async () => {
    const { lines } = await dryRun([
      V4,
      '-u',
      '1000-2000',
      '-g',
      '3000:4000',
      '--outbound-owner-groups-exclude',
      '5-6',
    ]);
    const payload = section(lines, 'ipv4');
    expect(payload).toContain('-A ISTIO_OUTPUT -m owner --uid-owner 1000-2000 -j RETURN');
    expect(payload).toContain('-A ISTIO_OUTPUT -m owner --gid-owner 3000:4000 -j RETURN');
    expect(payload).toContain('-A ISTIO_OUTPUT -m owner --gid-owner 5-6 -j RETURN');
  });

  it('-u , writes no UID rules (and -g copies it: no GID rules), with a warning', async () => {
    const { lines, stderr } = await dryRun([V4, '-u', ',']);
    expect(lines.join('\n')).not.toMatch(/--(uid|gid)-owner/);
    expect(stderr).toContain("the proxy's own traffic is not exempt from capture");
  });

  it('-u , -g 1337 writes GID rules only', async () => {
    const { lines, stderr } = await dryRun([V4, '-u', ',', '-g', '1337']);
    expect(lines.join('\n')).not.toMatch(/--uid-owner/);
    expect(lines).toContain('-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN');
    expect(stderr).not.toContain('not exempt');
  });
});

describe('an IPv4-mapped loopback address in -i is loopback, as Go unmaps it (divergence 2)', () => {
  const appOverLo = /-o lo (-p tcp ! --dport 53 )?-m owner ! --(uid|gid)-owner/;

  it.each([
    '::ffff:127.0.0.1/128',
    '::ffff:7f00:1/96',
    '::FFFF:127.1.2.3/0',
    '0:0:0:0:0:ffff:7f00:0001/128',
    '10.0.0.0/8,::ffff:127.0.0.1/104',
  ])('-i %s drops the "-o lo … ! --uid/gid-owner" RETURNs in both families', async (cidr) => {
    const { lines } = await dryRun([V6, '-i', cidr, '-g', '1338']);
    expect(section(lines, 'ipv4').filter((line) => appOverLo.test(line))).toEqual([]);
    expect(section(lines, 'ipv6').filter((line) => appOverLo.test(line))).toEqual([]);
    // ...and the CIDR stays in the IPv6 payload, canonical and unmasked.
    expect(section(lines, 'ipv6').some((line) => line.startsWith('-A ISTIO_OUTPUT -d ::ffff:'))).toBe(true);
  });

  it.each(['::127.0.0.1/128', '::ffff:128.0.0.1/128', '0.0.0.0/0', '::/0'])(
    '-i %s is not loopback: the RETURNs stay',
    async (cidr) => {
      const { lines } = await dryRun([V6, '-i', cidr, '--redirect-dns', '--capture-all-dns']);
      for (const family of ['ipv4', 'ipv6'] as const) {
        expect(section(lines, family)).toContain(
          '-A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 1337 -j RETURN',
        );
      }
    },
  );
});

describe('a zoned DNS server (divergence 3): ip6tables rejects the rule, so the run is refused', () => {
  const resolvConf = (text: string): HostFacts => ({
    ...forbiddenHostFacts(),
    readTextFile: async () => text,
  });

  it('names the resolv.conf line and exits 1 with nothing printed', async () => {
    const host = resolvConf('search svc\nnameserver 10.96.0.10\nnameserver fe80::1%eth0\n');
    const result = await runCli([...BASE, V6, '--redirect-dns'], {}, host);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('/etc/resolv.conf line 3: "nameserver fe80::1%eth0"');
    expect(result.stderr).toContain('--dns-servers-v6');
  });

  it('is not read when DNS capture does not need the servers', async () => {
    const host = resolvConf('nameserver fe80::1%eth0\n');
    const { lines } = await dryRun([V6, '--redirect-dns', '--capture-all-dns'], {}, host);
    expect(lines.join('\n')).not.toContain('%');
  });
});

describe('settings upstream reads only in TPROXY mode, and Go integer syntax', () => {
  it('a hex mark and a kernel route table are not checked in REDIRECT mode (warned, not in the output)', async () => {
    const { lines, stderr } = await dryRun([V4, '-b', '80', '-t', '0x539', '-r', '254']);
    expect(lines.join('\n')).not.toMatch(/0x539|254|mark/);
    expect(stderr).toContain('--istio-inbound-tproxy-mark is not used in REDIRECT mode');
    expect(stderr).toContain('--istio-inbound-tproxy-route-table is not used in REDIRECT mode');
  });

  it.each(['0x3a9a', '035232', '15_002'])('--iptables-probe-port=%s is accepted, as pflag takes it', async (value) => {
    await dryRun([V4, `--iptables-probe-port=${value}`]);
    await dryRun([V4], { IPTABLES_PROBE_PORT: value });
  });
});
