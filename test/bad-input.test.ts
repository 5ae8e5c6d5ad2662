/**
 * Bad input, class by class: every run must exit 2, print nothing on stdout (no payload, so
 * nothing of the input can reach a restore), and name on stderr where the value came from
 * (flag, env var or config key) together with the value itself. The CLI runs in-process with
 * HostFacts that refuse every call and without `apply`, so nothing can be applied.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { forbiddenHostFacts, runCli, type CliResult } from './support/cli.js';

/** A valid run: the bad value under test is the only thing wrong. Later flags override these. */
const BASE = ['--dry-run', '--enable-inbound-ipv6=false', '-u', '1337'];

/** A problem stderr must report: its source and the value, on one line. */
interface Expected {
  readonly source: string;
  /** Shown JSON-quoted, as the error format does (so newlines cannot start a new line). */
  readonly value?: string;
  /** Or, when the value is the whole command line: a fragment of it. */
  readonly mentions?: string;
}

const issue = (source: string, value: string): Expected => ({ source, value });
const env = (name: string, value: string): Expected => ({ source: `environment variable ${name}`, value });
const configKey = (key: string, value: string): Expected => ({ source: `config key ${key}`, value });

interface Row {
  readonly title: string;
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly expect: readonly Expected[];
}

async function run(argv: readonly string[], envVars: Readonly<Record<string, string>> = {}): Promise<CliResult> {
  const host = forbiddenHostFacts();
  const result = await runCli(argv, envVars, host);
  expect(host.calls).toEqual([]);
  return result;
}

function expectRejected(result: CliResult, expected: readonly Expected[]): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  const lines = result.stderr.split('\n');
  // Nothing on stderr looks like a restore line either: values are quoted, newlines escaped.
  expect(lines.filter((line) => /^(-[AIN] |\* |COMMIT$)/.test(line))).toEqual([]);
  for (const e of expected) {
    const fragment = e.value !== undefined ? `${e.source}=${JSON.stringify(e.value)}` : (e.mentions ?? '');
    const found = lines.some((line) => line.includes(e.source) && line.includes(fragment));
    expect(found, `stderr should report ${e.source} with ${fragment}:\n${result.stderr}`).toBe(true);
  }
}

const INJECTION = '80\n-A OUTPUT -j ACCEPT';

/** Rows for a flag: one per bad value, each reported as the flag's long name with the value. */
function rows(
  flag: string,
  long: string,
  values: readonly (string | [given: string, reported: string])[],
  extra: readonly string[] = [],
): Row[] {
  return values.map((v) => {
    const [given, reported] = typeof v === 'string' ? [v, v] : v;
    return {
      title: `${flag} ${JSON.stringify(given)}`,
      argv: [...BASE, ...extra, flag, given],
      expect: [issue(long, reported)],
    };
  });
}

const SINGLE_PORT_VALUES = ['0', '65536', 'abc', '80,x', ' 81', '5:3', '1000:2000', '15001-15002', '080', INJECTION];
/** -e takes a closed range too, but not what multiport (DNS capture) rejects. */
const TUNNEL_PORT_VALUES = [
  '0',
  '65536',
  'abc',
  '80,x',
  ' 81',
  '5:3',
  '15008:15008',
  ':15008',
  '15008:',
  '080',
  INJECTION,
];
/** In a list each item is checked and reported on its own. */
const PORT_LIST_VALUES: (string | [string, string])[] = [
  '0',
  '65536',
  'abc',
  ['80,x', 'x'],
  ['80,\t81', '\t81'],
  '5:3',
  '0:0',
  ':',
  '080',
  '010',
  'http',
  '1:2:3',
  '-5',
  INJECTION,
];

const table: Record<string, Row[]> = {
  'single ports (-p -z -e)': [
    ...rows('-p', '--envoy-port', SINGLE_PORT_VALUES),
    ...rows('-z', '--inbound-capture-port', SINGLE_PORT_VALUES),
    ...rows('-e', '--inbound-tunnel-port', TUNNEL_PORT_VALUES),
    {
      title: 'INBOUND_CAPTURE_PORT env',
      argv: BASE,
      env: { INBOUND_CAPTURE_PORT: '0' },
      expect: [env('INBOUND_CAPTURE_PORT', '0')],
    },
    {
      title: 'INBOUND_CAPTURE_PORT= (empty; upstream writes --to-ports with no port)',
      argv: BASE,
      env: { INBOUND_CAPTURE_PORT: '' },
      expect: [env('INBOUND_CAPTURE_PORT', '')],
    },
  ],
  'port lists (-b -d -q -o)': [
    ...rows('-b', '--istio-inbound-ports', [...PORT_LIST_VALUES, ['80,*', '80,*']]),
    ...rows('-d', '--istio-local-exclude-ports', [...PORT_LIST_VALUES, '*'], ['-b', '*']),
    ...rows('-q', '--istio-outbound-ports', PORT_LIST_VALUES),
    ...rows('-o', '--istio-local-outbound-ports-exclude', PORT_LIST_VALUES),
    // Upstream ignores -d unless -b is "*"; it is still checked.
    ...rows('-d', '--istio-local-exclude-ports', ['abc', INJECTION], ['-b', '80']),
    {
      title: 'ISTIO_INBOUND_PORTS env',
      argv: BASE,
      env: { ISTIO_INBOUND_PORTS: '80;81' },
      expect: [env('ISTIO_INBOUND_PORTS', '80;81')],
    },
  ],
  'CIDRs per family (-i -x)': [
    ...(['-i', '-x'] as const).flatMap((flag) =>
      rows(flag, flag === '-i' ? '--istio-service-cidr' : '--istio-service-exclude-cidr', [
        '10.0.0.0',
        '10.0.0.0/33',
        '10.0.0.0/08',
        '10.0.0.0/-1',
        '010.0.0.0/8',
        '10.0.0.256/32',
        ' 10.0.0.0/8',
        ['10.0.0.0/8, 10.1.0.0/16', ' 10.1.0.0/16'],
        '2001:db8::',
        '2001:db8::/129',
        '2001:db8:::/32',
        'fe80::1%eth0/64',
        '::ffff:1.2.3.04/120',
        ['10.0.0.0/8,*', '*'],
        `10.0.0.0/8\n-A OUTPUT -j ACCEPT`,
      ]),
    ),
    ...rows('-i', '--istio-service-cidr', [['*,10.0.0.0/8', '*']]),
    ...rows('-x', '--istio-service-exclude-cidr', ['*']),
    {
      title: 'ISTIO_SERVICE_EXCLUDE_CIDR env',
      argv: BASE,
      env: { ISTIO_SERVICE_EXCLUDE_CIDR: '*' },
      expect: [env('ISTIO_SERVICE_EXCLUDE_CIDR', '*')],
    },
  ],
  'IPv4 loopback CIDR': [
    ...rows('--host-ipv4-loopback-cidr', '--host-ipv4-loopback-cidr', [
      '10.0.0.1/8',
      '128.0.0.1/32',
      '127.0.0.1/7',
      '127.0.0.1',
      '::1/128',
      '127.0.0.1/33',
      '127.0.0.01/8',
    ]),
    {
      title: 'ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR env',
      argv: BASE,
      env: { ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR: '10.0.0.1/8' },
      expect: [env('ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR', '10.0.0.1/8')],
    },
  ],
  'DNS servers': [
    ...rows(
      '--dns-servers-v4',
      '--dns-servers-v4',
      ['::1', ['10.96.0.10,2001:db8::53', '2001:db8::53'], '10.96.0.10/32', '10.96.0.10 -j ACCEPT', '10.96.0'],
      ['--redirect-dns'],
    ),
    ...rows(
      '--dns-servers-v6',
      '--dns-servers-v6',
      ['10.96.0.10', 'fe80::1%eth0', 'fe80::1%', '2001:db8::53/128', '::1 -j ACCEPT'],
      ['--redirect-dns'],
    ),
  ],
  'interface names (-c -k)': (['-c', '-k'] as const).flatMap((flag) =>
    rows(flag, flag === '-c' ? '--istio-exclude-interfaces' : '--kube-virt-interfaces', [
      '0123456789abcdef',
      'ethé12345678901',
      'eth 0',
      'eth\t0',
      'a/b',
      'a:b',
      'a"b',
      "a'b",
      'a\\b',
      '-j ACCEPT',
      '-jACCEPT',
      '!eth0',
      'a\u0001b',
      '..',
      'eth0\n-A OUTPUT -j ACCEPT',
    ]),
  ),
  'UIDs and GIDs (-u -g)': [
    ...rows('-u', '--proxy-uid', [
      '-1',
      'a b',
      '1337 -j ACCEPT',
      '4294967295',
      '$x',
      '2000-1000',
      '0x539',
      `1337\n-A OUTPUT -j ACCEPT`,
    ]),
    ...rows('-g', '--proxy-gid', ['-1', 'a b', '1337 -j ACCEPT', '4294967295', '1000-']),
    { title: 'PROXY_GID env', argv: BASE, env: { PROXY_GID: 'a b' }, expect: [env('PROXY_GID', 'a b')] },
  ],
  'owner groups': [
    ...rows('--outbound-owner-groups', '--outbound-owner-groups', [
      'java -j ACCEPT',
      ['*,java', '*'],
      ['java,!x', '!x'],
    ]),
    ...rows('--outbound-owner-groups-exclude', '--outbound-owner-groups-exclude', [
      'a b',
      '-1',
      ['888,ftp\n-A OUTPUT', 'ftp\n-A OUTPUT'],
    ]),
    {
      title: 'more than 64 groups',
      argv: BASE,
      env: { ISTIO_OUTBOUND_OWNER_GROUPS: Array.from({ length: 65 }, (_, i) => `g${i}`).join(',') },
      expect: [env('ISTIO_OUTBOUND_OWNER_GROUPS', Array.from({ length: 65 }, (_, i) => `g${i}`).join(','))],
    },
    {
      title: 'ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE env',
      argv: BASE,
      env: { ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE: 'bad group' },
      expect: [env('ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE', 'bad group')],
    },
  ],
  'interception mode (-m)': [
    ...rows('-m', '--istio-inbound-interception-mode', ['tproxy', 'redirect', 'FOO', ' TPROXY']),
    {
      title: 'ISTIO_INBOUND_INTERCEPTION_MODE env',
      argv: BASE,
      env: { ISTIO_INBOUND_INTERCEPTION_MODE: 'Tproxy' },
      expect: [env('ISTIO_INBOUND_INTERCEPTION_MODE', 'Tproxy')],
    },
  ],
  'TPROXY mark and route table (-t -r)': [
    ...rows(
      '-t',
      '--istio-inbound-tproxy-mark',
      ['0x539', '0', '4294967296', 'abc', '-1'],
      ['-m', 'TPROXY', '-b', '80'],
    ),
    ...rows(
      '-r',
      '--istio-inbound-tproxy-route-table',
      ['0x539', '0', '253', '254', '255', 'main'],
      ['-m', 'TPROXY', '-b', '80'],
    ),
  ],
  'probe settings': [
    ...rows('--probe-timeout', '--probe-timeout', ['5 s', 'abc', '-1s', '1', '.s', '5sec']),
    ...rows('--iptables-probe-port', '--iptables-probe-port', ['70000', 'abc', '0x10000', '08', '1__0', '-1']),
    {
      title: '--run-validation with probe port 0',
      argv: [...BASE, '--host-ip', '10.0.0.1', '--run-validation', '--iptables-probe-port', '0'],
      expect: [issue('--iptables-probe-port', '0')],
    },
    ...rows('--host-ip', '--host-ip', ['1.2.3', '10.0.0.1/32']),
    { title: 'PROBE_TIMEOUT env', argv: BASE, env: { PROBE_TIMEOUT: 'abc' }, expect: [env('PROBE_TIMEOUT', 'abc')] },
    {
      title: 'IPTABLES_PROBE_PORT=99999 (upstream: 65535)',
      argv: BASE,
      env: { IPTABLES_PROBE_PORT: '99999' },
      expect: [env('IPTABLES_PROBE_PORT', '99999')],
    },
  ],
  'lock timeout': [
    ...rows('--lock-timeout', '--lock-timeout', ['30', '-1s', 'abc', '30 s']),
    {
      title: 'ISTIO_IPTABLES_LOCK_TIMEOUT env',
      argv: BASE,
      env: { ISTIO_IPTABLES_LOCK_TIMEOUT: 'soon' },
      expect: [env('ISTIO_IPTABLES_LOCK_TIMEOUT', 'soon')],
    },
  ],
  'booleans in env vars': [
    { title: 'REDIRECT_DNS=yes', argv: BASE, env: { REDIRECT_DNS: 'yes' }, expect: [env('REDIRECT_DNS', 'yes')] },
    {
      title: 'DRY_RUN=on (no --dry-run flag)',
      argv: ['--enable-inbound-ipv6=false', '-u', '1337'],
      env: { DRY_RUN: 'on' },
      expect: [env('DRY_RUN', 'on')],
    },
    {
      title: 'ISTIO_META_DNS_CAPTURE=nope over REDIRECT_DNS=true',
      argv: BASE,
      env: { REDIRECT_DNS: 'true', ISTIO_META_DNS_CAPTURE: 'nope' },
      expect: [env('ISTIO_META_DNS_CAPTURE', 'nope')],
    },
    { title: 'INVALID_DROP=y', argv: BASE, env: { INVALID_DROP: 'y' }, expect: [env('INVALID_DROP', 'y')] },
    {
      title: 'CAPTURE_ALL_DNS=enabled',
      argv: BASE,
      env: { CAPTURE_ALL_DNS: 'enabled' },
      expect: [env('CAPTURE_ALL_DNS', 'enabled')],
    },
  ],
  'boolean flags': [
    {
      title: '--dry-run=yes',
      argv: ['--enable-inbound-ipv6=false', '-u', '1337', '--dry-run=yes'],
      expect: [issue('--dry-run', 'yes')],
    },
    {
      title: '--dry-run false (separate value)',
      argv: ['--enable-inbound-ipv6=false', '-u', '1337', '--dry-run', 'false'],
      expect: [issue('--dry-run', 'false')],
    },
    {
      title: '-n=on',
      argv: ['--enable-inbound-ipv6=false', '-u', '1337', '-n=on'],
      expect: [issue('--dry-run', 'on')],
    },
    { title: '--redirect-dns= (empty)', argv: [...BASE, '--redirect-dns='], expect: [issue('--redirect-dns', '')] },
    {
      title: '--enable-inbound-ipv6=maybe',
      argv: ['--dry-run', '-u', '1337', '--enable-inbound-ipv6=maybe'],
      expect: [issue('--enable-inbound-ipv6', 'maybe')],
    },
  ],
  'command-line shape': [
    {
      title: '-x --dry-run (missing value)',
      argv: ['--enable-inbound-ipv6=false', '-u', '1337', '-x', '--dry-run'],
      expect: [{ source: '--istio-service-exclude-cidr', mentions: 'needs a value' }],
    },
    {
      title: '-p at the end (missing value)',
      argv: [...BASE, '-p'],
      expect: [{ source: '--envoy-port', mentions: 'needs a value' }],
    },
    { title: 'unknown long flag', argv: [...BASE, '--foo'], expect: [issue('--foo', '')] },
    {
      title: 'unknown flag with a value',
      argv: [...BASE, '--capture-all=true'],
      expect: [issue('--capture-all', 'true')],
    },
    { title: 'unknown short flag', argv: [...BASE, '-Z'], expect: [issue('-Z', '')] },
    { title: 'positional argument', argv: [...BASE, 'extra'], expect: [issue('command line', 'extra')] },
    { title: 'positional argument after --', argv: [...BASE, '--', 'extra'], expect: [issue('command line', 'extra')] },
  ],
  'unsupported backends and paths': [
    ...rows('--force-iptables-binary', '--force-iptables-binary', ['foo', 'iptables-legacy', 'NFT']),
    {
      title: 'FORCE_IPTABLES_BINARY env',
      argv: BASE,
      env: { FORCE_IPTABLES_BINARY: 'auto' },
      expect: [env('FORCE_IPTABLES_BINARY', 'auto')],
    },
    ...rows('--network-namespace', '--network-namespace', ['netns/pod', 'pod']),
    {
      title: 'DRY_RUN_FILE_PATH that cannot be written',
      argv: BASE,
      env: { DRY_RUN_FILE_PATH: '/nonexistent-iit/dir/transcript' },
      expect: [env('DRY_RUN_FILE_PATH', '/nonexistent-iit/dir/transcript')],
    },
  ],
};

describe.each(Object.entries(table))('%s', (_group, cases) => {
  it.each(cases.map((row) => [row.title, row] as const))('rejects %s', async (_title, row) => {
    expectRejected(await run(row.argv, row.env), row.expect);
  });
});

describe('the config file (--config)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bad-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const withConfig = (path: string) => ['--config', path, '--dry-run', '--enable-inbound-ipv6=false', '-u', '1337'];

  it('rejects an unknown key, naming it and its value', async () => {
    expectRejected(await run(withConfig(file('unknown.json', '{"PROXY_PORTS": "15001"}'))), [
      configKey('PROXY_PORTS', '"15001"'),
    ]);
  });

  it('rejects values of the wrong type, every one of them', async () => {
    const path = file(
      'types.json',
      '{"PROXY_PORT": 15001, "DRY_RUN": "yes", "DNS_SERVERS_V4": "10.96.0.10", "PROBE_TIMEOUT": "5s", "IPTABLES_PROBE_PORT": 1.5}',
    );
    expectRejected(await run(withConfig(path)), [
      configKey('PROXY_PORT', '15001'),
      configKey('DRY_RUN', '"yes"'),
      configKey('DNS_SERVERS_V4', '"10.96.0.10"'),
      configKey('PROBE_TIMEOUT', '"5s"'),
      configKey('IPTABLES_PROBE_PORT', '1.5'),
    ]);
  });

  it('rejects a record that is not an object', async () => {
    const path = file('array.json', '["PROXY_PORT"]');
    expectRejected(await run(withConfig(path)), [issue(`--config ${path}`, '["PROXY_PORT"]')]);
  });

  it('rejects invalid JSON', async () => {
    const path = file('broken.json', '{"PROXY_PORT": ');
    expectRejected(await run(withConfig(path)), [issue(`--config ${path}`, '{"PROXY_PORT": ')]);
  });

  it('rejects a missing file', async () => {
    const path = join(dir, 'missing.json');
    expectRejected(await run(withConfig(path)), [issue('--config', path)]);
  });

  it('rejects bad values by their config key', async () => {
    const path = file(
      'values.json',
      JSON.stringify({
        PROXY_PORT: '0',
        EXCLUDE_INTERFACES: 'eth0,a\u0000b',
        DNS_SERVERS_V4: ['::1'],
        DNS_SERVERS_V6: ['fe80::1%eth0'],
        REDIRECT_DNS: true,
        INBOUND_INTERCEPTION_MODE: 'tproxy',
      }),
    );
    expectRejected(await run(withConfig(path)), [
      configKey('PROXY_PORT', '0'),
      configKey('EXCLUDE_INTERFACES', 'a\u0000b'),
      configKey('DNS_SERVERS_V4', '::1'),
      configKey('DNS_SERVERS_V6', 'fe80::1%eth0'),
      configKey('INBOUND_INTERCEPTION_MODE', 'tproxy'),
    ]);
  });
});

describe('reporting', () => {
  it('accepts the base arguments the rows build on (so each row fails for its own value only)', async () => {
    const result = await run(BASE);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('* nat\n');
  });

  it('reports every problem at once: flags, env vars and the config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-many-'));
    try {
      const config = join(dir, 'config.json');
      writeFileSync(config, '{"NO_SUCH_KEY": true}');
      const result = await run(
        [
          '--config',
          config,
          ...BASE,
          '-p',
          '0',
          '-b',
          '80,abc',
          '-i',
          '10.0.0.0',
          '-c',
          'eth 0',
          '-u',
          '-1',
          '-m',
          'tproxy',
          '-e',
          '15008:15008',
          '--probe-timeout',
          '5 s',
        ],
        { REDIRECT_DNS: 'yes', ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR: '10.0.0.1/8' },
      );
      const expected = [
        configKey('NO_SUCH_KEY', 'true'),
        env('REDIRECT_DNS', 'yes'),
        issue('--envoy-port', '0'),
        issue('--istio-inbound-ports', 'abc'),
        issue('--istio-service-cidr', '10.0.0.0'),
        issue('--istio-exclude-interfaces', 'eth 0'),
        issue('--proxy-uid', '-1'),
        issue('--istio-inbound-interception-mode', 'tproxy'),
        issue('--inbound-tunnel-port', '15008:15008'),
        issue('--probe-timeout', '5 s'),
        env('ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR', '10.0.0.1/8'),
      ];
      expectRejected(result, expected);
      const count = /invalid configuration \((\d+) problems\)/.exec(result.stderr)?.[1];
      expect(Number(count)).toBeGreaterThanOrEqual(expected.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports every command-line problem at once', async () => {
    const result = await run([
      '--enable-inbound-ipv6=false',
      '-u',
      '1337',
      '--dry-run=yes',
      '--redirect-dns',
      'true',
      '-x',
    ]);
    expectRejected(result, [
      issue('--dry-run', 'yes'),
      issue('--redirect-dns', 'true'),
      { source: '--istio-service-exclude-cidr', mentions: 'needs a value' },
    ]);
  });

  it('never echoes an injected line as a line of its own', async () => {
    const result = await run([
      ...BASE,
      '-c',
      'eth0\n-A OUTPUT -j ACCEPT',
      '-q',
      INJECTION,
      '-u',
      '1337\n-A OUTPUT -j ACCEPT',
    ]);
    expectRejected(result, [
      issue('--istio-exclude-interfaces', 'eth0\n-A OUTPUT -j ACCEPT'),
      issue('--istio-outbound-ports', INJECTION),
    ]);
    expect(result.stderr).not.toContain('\n-A OUTPUT');
  });
});
