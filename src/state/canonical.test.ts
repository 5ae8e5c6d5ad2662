import { describe, expect, test } from 'vitest';
import { canonicalRule } from './canonical.js';
import { parseSave } from './save-parser.js';
import { compareState, expectedState } from './compare.js';
import { cleanupPayload, replacePayload, rollbackPayload } from './transactions.js';
import { append, insert } from '../plan/builder.js';
import type { Ruleset } from '../model/netfilter.js';

const key = (line: string) => canonicalRule(line.split(' '));

/** Planned text (as we write it) and what iptables-save 1.8.9 prints for it, on both backends. */
const PAIRS: readonly [string, string][] = [
  ['-p tcp --dport 15008 -j RETURN', '-p tcp -m tcp --dport 15008 -j RETURN'],
  [
    '-o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT',
    '! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT',
  ],
  ['-o lo -s 127.0.0.6/32 -j RETURN', '-s 127.0.0.6/32 -o lo -j RETURN'],
  [
    '-p tcp -m mark --mark 1337 -j CONNMARK --save-mark',
    '-p tcp -m mark --mark 0x539 -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff',
  ],
  [
    '! -d 127.0.0.1/32 -p tcp -o lo -m owner --gid-owner 1337 -j MARK --set-mark 1338',
    '! -d 127.0.0.1/32 -o lo -p tcp -m owner --gid-owner 1337 -j MARK --set-xmark 0x53a/0xffffffff',
  ],
  [
    '! -d ::1/128 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006',
    '! -d ::1/128 -p tcp -j TPROXY --on-port 15006 --on-ip :: --tproxy-mark 0x539/0xffffffff',
  ],
  ['-p tcp -i lo -m mark ! --mark 1338 -j RETURN', '-i lo -p tcp -m mark ! --mark 0x53a -j RETURN'],
  ['-p udp --dport 53 -j REDIRECT --to-port 15053', '-p udp -m udp --dport 53 -j REDIRECT --to-ports 15053'],
  ['-d 10.0.0.1/8 -j ISTIO_REDIRECT', '-d 10.0.0.0/8 -j ISTIO_REDIRECT'],
  ['-p udp --dport 53 -d ::127.0.0.53/128 -j CT --zone 2', '-d ::7f00:35/128 -p udp -m udp --dport 53 -j CT --zone 2'],
  [
    '-p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 1337 -j RETURN',
    '-p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 1337 -j RETURN',
  ],
  // Spellings upstream copies verbatim, as save prints them (checked in a namespace, issue 16).
  ['-p tcp --dport 51980:51980 -j RETURN', '-p tcp -m tcp --dport 51980 -j RETURN'],
  ['-p udp --dport :1000 -j RETURN', '-p udp -m udp --dport 0:1000 -j RETURN'],
  ['-p tcp --dport 1000: -j RETURN', '-p tcp -m tcp --dport 1000:65535 -j RETURN'],
  ['-p tcp --dport 0:65535 -j RETURN', '-p tcp -m tcp -j RETURN'],
  ['-m owner --gid-owner 1000:2000 -j RETURN', '-m owner --gid-owner 1000-2000 -j RETURN'],
  ['-m owner --uid-owner 1000-1000 -j RETURN', '-m owner --uid-owner 1000 -j RETURN'],
  ['-d 10.0.0.1/0 -j ISTIO_REDIRECT', '-j ISTIO_REDIRECT'],
  ['-i eth0 -d ::ffff:1.2.3.4/0 -j ISTIO_REDIRECT', '-i eth0 -j ISTIO_REDIRECT'],
];

describe('canonical rules', () => {
  test.each(PAIRS)('`%s` equals its saved form', (planned, saved) => {
    expect(key(planned)).toBe(key(saved));
  });

  test.each([
    ['-p tcp --dport 15008 -j RETURN', '-p tcp -m tcp --dport 15009 -j RETURN'],
    ['-o lo -m owner ! --uid-owner 1337 -j RETURN', '-o lo -m owner --uid-owner 1337 -j RETURN'],
    ['-p tcp -m mark --mark 1337 -j RETURN', '-p tcp -m mark --mark 0x53a -j RETURN'],
    ['-d 10.0.0.0/8 -j ISTIO_REDIRECT', '-d 10.0.0.0/9 -j ISTIO_REDIRECT'],
    ['-j ISTIO_REDIRECT', '-j ISTIO_IN_REDIRECT'],
    ['-p tcp --dport 1000: -j RETURN', '-p tcp -m tcp --dport 1000 -j RETURN'],
    ['-p tcp --dport :1000 -j RETURN', '-p tcp -m tcp --dport 1000 -j RETURN'],
    ['-d 10.0.0.1/1 -j ISTIO_REDIRECT', '-j ISTIO_REDIRECT'],
    ['-m owner --uid-owner 1000-2000 -j RETURN', '-m owner --uid-owner 1000 -j RETURN'],
  ])('`%s` differs from `%s`', (a, b) => {
    expect(key(a)).not.toBe(key(b));
  });

  test('items padded with spaces (one token each, as the planner makes them) equal their saved form', () => {
    expect(
      canonicalRule([
        '-o',
        ' eth1',
        '-p',
        'tcp',
        '--dport',
        ' 81 ',
        '-m',
        'owner',
        '--uid-owner',
        ' 1337',
        '-j',
        'RETURN',
      ]),
    ).toBe(key('-o eth1 -p tcp -m tcp --dport 81 -m owner --uid-owner 1337 -j RETURN'));
  });

  test('owner names resolve to ids when a resolver is given', () => {
    const resolveOwner = (_: 'uid' | 'gid', name: string) => (name === 'istio-proxy' ? 1337 : undefined);
    expect(canonicalRule('-m owner --uid-owner istio-proxy -j RETURN'.split(' '), { resolveOwner })).toBe(
      key('-m owner --uid-owner 1337 -j RETURN'),
    );
  });
});

const RULESET: Ruleset = {
  family: 'ipv4',
  ops: [
    append('nat', 'PREROUTING', [{ kind: 'protocol', protocol: 'tcp' }], { kind: 'jump', chain: 'ISTIO_INBOUND' }),
    append('nat', 'ISTIO_INBOUND', [{ kind: 'protocol', protocol: 'tcp' }], { kind: 'return' }),
    insert('nat', 'ISTIO_INBOUND', 1, [{ kind: 'inInterface', name: 'lo' }], { kind: 'return' }),
  ],
};
const SAVED =
  '*nat\n:PREROUTING ACCEPT [0:0]\n:ISTIO_INBOUND - [0:0]\n-A PREROUTING -p tcp -j ISTIO_INBOUND\n-A PREROUTING -p udp -j ACCEPT\n-A ISTIO_INBOUND -i lo -j RETURN\n-A ISTIO_INBOUND -p tcp -j RETURN\nCOMMIT\n';

describe('comparing plan and live state', () => {
  const expected = expectedState(RULESET);

  test('inserts are compared at their kernel position; foreign built-in rules are ignored', () => {
    expect(compareState(expected, parseSave(SAVED))).toEqual({ status: 'match' });
  });

  test('no owned chain and no jump into one is a clean state', () => {
    expect(compareState(expected, parseSave('*nat\n-A PREROUTING -p udp -j ACCEPT\nCOMMIT\n'))).toEqual({
      status: 'clean',
    });
  });

  test('order, duplicates, stale chains and missing rules are drift, each explained', () => {
    const drifted = SAVED.replace(
      '-A ISTIO_INBOUND -i lo -j RETURN\n-A ISTIO_INBOUND -p tcp -j RETURN',
      '-A ISTIO_INBOUND -p tcp -j RETURN\n-A ISTIO_INBOUND -i lo -j RETURN',
    )
      .replace(':ISTIO_INBOUND - [0:0]', ':ISTIO_INBOUND - [0:0]\n:ISTIO_OLD - [0:0]')
      .replace('-A PREROUTING -p udp -j ACCEPT', '-A PREROUTING -p tcp -j ISTIO_INBOUND');
    const verdict = compareState(expected, parseSave(drifted));
    expect(verdict.status).toBe('drift');
    expect(verdict.status === 'drift' && verdict.differences).toEqual([
      'nat PREROUTING: 2 copies of -A PREROUTING -p tcp -j ISTIO_INBOUND',
      'nat ISTIO_INBOUND: rule 1 should be `-A ISTIO_INBOUND -i lo -j RETURN`, is `-A ISTIO_INBOUND -p tcp -j RETURN` (2 rules live, 2 planned)',
      'nat ISTIO_OLD: chain not in the plan',
    ]);
  });

  test('the replace transaction flushes our chains, deletes our jumps and stale chains, and re-adds the plan', () => {
    const live = parseSave(SAVED.replace(':ISTIO_INBOUND - [0:0]', ':ISTIO_INBOUND - [0:0]\n:ISTIO_OLD - [0:0]'));
    expect(replacePayload(RULESET, live, expected).text).toBe(
      '*nat\n:ISTIO_INBOUND - [0:0]\n:ISTIO_OLD - [0:0]\n-D PREROUTING -p tcp -j ISTIO_INBOUND\n-X ISTIO_OLD\n' +
        '-A PREROUTING -p tcp -j ISTIO_INBOUND\n-A ISTIO_INBOUND -p tcp -j RETURN\n-I ISTIO_INBOUND 1 -i lo -j RETURN\nCOMMIT\n',
    );
  });

  test('the cleanup transaction removes only what is ours', () => {
    expect(cleanupPayload(parseSave(SAVED), expected).text).toBe(
      '*nat\n:ISTIO_INBOUND - [0:0]\n-D PREROUTING -p tcp -j ISTIO_INBOUND\n-X ISTIO_INBOUND\nCOMMIT\n',
    );
    expect(cleanupPayload(parseSave('*nat\n-A PREROUTING -p udp -j ACCEPT\nCOMMIT\n'), expected).text).toBe('');
  });

  test('rollback restores the tables named, and empties those that did not exist', () => {
    expect(rollbackPayload(`# Generated by iptables-save v1.8.9\n${SAVED}`, ['nat', 'raw'])).toBe(
      `${SAVED}*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n`,
    );
  });
});
