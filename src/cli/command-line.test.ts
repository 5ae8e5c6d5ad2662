/**
 * `parseKnownFlags` stands in for yargs on ordinary command lines; it must give exactly what
 * yargs gives, and leave everything else to yargs.
 */
import { describe, expect, it } from 'vitest';
import { FLAG_SPECS } from '../config/flag-spec.js';
import { commandLine } from './command-line.js';
import { checkArgv, parseKnownFlags } from './argv.js';

function viaYargs(normalised: readonly string[]): Record<string, unknown> {
  const { _: positional, $0: _script, ...flags } = commandLine(normalised).parseSync() as Record<string, unknown>;
  void _script;
  expect(positional).toEqual([]);
  return flags;
}

const UPSTREAM = [
  '-p',
  '15001',
  '-z',
  '15006',
  '-u',
  '1337',
  '-m',
  'REDIRECT',
  '-i',
  '*',
  '-x',
  '',
  '-b',
  '*',
  '-d',
  '15090,15021,15020',
];

const SAME: readonly (readonly string[])[] = [
  [],
  UPSTREAM,
  [...UPSTREAM, '--dry-run', '--enable-inbound-ipv6=false'],
  ['-n', '-p=15001', '--envoy-port', '15002'],
  ['--dry-run=false', '--dry-run', '--redirect-dns=true', '--capture-all-dns=false'],
  ['-x=', '-i', '10.0.0.0/8,fd00::/8', '--istio-service-exclude-cidr', '192.0.2.0/24'],
  ['--config=golden/config.json', '-n'],
  ['--config', 'x.json'],
  ['--config=-'],
  ['--config', '-', '-n'],
  ['istio-iptables', ...UPSTREAM, '--log_output_level=default:info', '--log_as_json'],
  ['-p15001', '-ceth0', '-nx10.0.0.0/8', '-d=15090'],
  ['-b', 'a=b', '-d', '=', '-k', 'vnet0,vnet1', '--probe-timeout', '1m30s', '-n'],
  ['--istio-service-cidr=*', '-q', '80,443', '-o', '1000:2000'],
  ['--network-namespace', '/var/run/netns/x', '--host-ip', '::1', '--dns-servers-v4=', '--dns-servers-v6', '::1'],
  ['-u', 'it is a "quoted" word', '-g', "o'brien"],
  // Every flag once, strings with a value and booleans bare.
  FLAG_SPECS.flatMap((spec) => (spec.kind === 'boolean' ? [`--${spec.long}`] : [`--${spec.long}`, `v-${spec.long}`])),
  FLAG_SPECS.flatMap((spec) =>
    'short' in spec && spec.short ? (spec.kind === 'boolean' ? [`-${spec.short}`] : [`-${spec.short}`, '1']) : [],
  ),
];

describe('parseKnownFlags', () => {
  it.each(SAME.map((argv) => [argv.join(' ') || '(none)', argv]))('reads %s as yargs does', (_label, argv) => {
    const checked = checkArgv(argv);
    const known = parseKnownFlags(checked.argv);
    expect(known, 'expected the fast path to take this argv').toBeDefined();
    expect(known).toEqual(viaYargs(checked.argv));
  });

  it.each([
    ['--help'],
    ['-h'],
    ['--unknown=1'],
    ['positional'],
    ['-n', 'extra'],
    ['--no-dry-run'],
    ['-u', '"1337"'],
    ['-u', "'1337'"],
  ])('leaves %j to yargs', (...argv) => {
    expect(parseKnownFlags(checkArgv(argv).argv)).toBeUndefined();
  });
});

describe('checkArgv', () => {
  it.each([
    [
      ['--config', 'x.json', '-n'],
      ['--config=x.json', '--dry-run'],
    ],
    [['--config', '-'], ['--config=-']],
    // The injector's args for pilot-agent: the sub-command's name first, and its logging flags.
    [
      [
        'istio-iptables',
        '-p',
        '15001',
        '--log_output_level',
        'default:info',
        '--log_as_json',
        '--log_rotate_max_age=3',
      ],
      ['--envoy-port=15001'],
    ],
    // pflag's joined short forms.
    [
      ['-p15001', '-ceth0', '-x10.0.0.0/8,::1/128'],
      ['--envoy-port=15001', '--istio-exclude-interfaces=eth0', '--istio-service-exclude-cidr=10.0.0.0/8,::1/128'],
    ],
    [
      ['-nk', 'vnet0'],
      ['--dry-run', '--kube-virt-interfaces=vnet0'],
    ],
    [['-c=eth0=x'], ['--istio-exclude-interfaces=eth0=x']],
  ])('normalises %j', (argv, expected) => {
    expect(checkArgv(argv)).toEqual({ argv: expected, issues: [] });
  });

  it('keeps the sub-command name anywhere but first as a positional', () => {
    expect(checkArgv(['-n', 'istio-iptables']).argv).toEqual(['--dry-run', 'istio-iptables']);
  });

  it.each([
    [['--config'], '--config'],
    [['--config', '--dry-run'], '--config'],
    [['--log_target'], '--log_target'],
    [['--log_as_json=yes'], '--log_as_json'],
    [['--log_rotate_max_size', '10MB'], '--log_rotate_max_size'],
  ])('reports %j', (argv, source) => {
    expect(checkArgv(argv).issues.map((issue) => issue.source)).toEqual([source]);
  });
});
