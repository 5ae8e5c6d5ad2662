/**
 * `parseKnownFlags` stands in for yargs on ordinary command lines; it must give exactly what
 * yargs gives, and leave everything else to yargs.
 */
import { describe, expect, it } from 'vitest';
import { FLAG_SPECS } from '../config/flag-spec.js';
import { commandLine } from './command-line.js';
import { checkArgv, parseKnownFlags } from './options.js';

function viaYargs(normalised: readonly string[]): Record<string, unknown> {
  const { _: positional, $0: _script, ...flags } = commandLine(normalised).parseSync() as Record<string, unknown>;
  void _script;
  expect(positional).toEqual([]);
  return flags;
}

const UPSTREAM = ['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020'];

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
  ['-b', 'a=b', '-d', '=', '-k', 'vnet0,vnet1', '--probe-timeout', '1m30s', '-n'],
  ['--istio-service-cidr=*', '-q', '80,443', '-o', '1000:2000'],
  ['--network-namespace', '/var/run/netns/x', '--host-ip', '::1', '--dns-servers-v4=', '--dns-servers-v6', '::1'],
  ['-u', 'it is a "quoted" word', '-g', "o'brien"],
  // Every flag once, strings with a value and booleans bare.
  FLAG_SPECS.flatMap((spec) => (spec.kind === 'boolean' ? [`--${spec.long}`] : [`--${spec.long}`, `v-${spec.long}`])),
  FLAG_SPECS.flatMap((spec) => ('short' in spec && spec.short ? (spec.kind === 'boolean' ? [`-${spec.short}`] : [`-${spec.short}`, '1']) : [])),
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
    ['--config'],
    ['--config', '--dry-run'],
  ])('leaves %j to yargs', (...argv) => {
    expect(parseKnownFlags(checkArgv(argv).argv)).toBeUndefined();
  });
});
