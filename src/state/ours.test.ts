import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { isBuiltinChain } from '../model/chains.js';
import type { TableName } from '../model/netfilter.js';
import { isOurBuiltinRule, liveTproxyMarks, ourShape } from './ours.js';
import { type LiveRule, liveRule, parseSave } from './save-parser.js';

/** `table CHAIN spec…` → the table, chain and rule, read as save text is read. */
function split(line: string): [TableName, string, LiveRule] {
  const [table = '', chain = '', ...spec] = line.split(' ');
  const rule = parseSave(`*${table}\n-A ${chain} ${spec.join(' ')}\nCOMMIT\n`)
    .get(table as TableName)
    ?.get(chain)?.[0];
  if (!rule) throw new Error(`not read: ${line}`);
  return [table as TableName, chain, rule];
}

const ours = (line: string): boolean => isOurBuiltinRule(...split(line));

describe('rules of ours in built-in chains, by shape', () => {
  // As this tool writes them and as iptables-save (legacy and nft) prints them back.
  const OURS = [
    'nat PREROUTING -p tcp -j ISTIO_INBOUND',
    'nat OUTPUT -j ISTIO_OUTPUT',
    'nat OUTPUT -p tcp -j ISTIO_OUTPUT',
    'raw OUTPUT -j ISTIO_OUTPUT_DNS',
    'mangle PREROUTING -m conntrack --ctstate INVALID -j ISTIO_DROP',
    'nat PREROUTING -i vnet0 -d 10.0.0.0/8 -j ISTIO_REDIRECT',
    'mangle PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark',
    'mangle PREROUTING -p tcp -m mark --mark 0x578 -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff',
    'mangle OUTPUT -p tcp -m connmark --mark 0x539 -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff',
    'mangle OUTPUT -o lo -p tcp -m mark --mark 0x4d2 -j RETURN',
    'mangle OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner --uid-owner 1337 -j MARK --set-xmark 0x53a/0xffffffff',
    'mangle OUTPUT ! -d 127.0.0.0/8 -p tcp -o lo -m owner --gid-owner 1501 -j MARK --set-mark 1338',
    'mangle OUTPUT ! -d ::1/128 -p tcp -o lo -m owner --uid-owner 1337 -j MARK --set-mark 1338',
    'nat PREROUTING -i eth9 -j RETURN',
    'nat OUTPUT -o eth9 -j RETURN',
    'mangle PREROUTING -i eth9 -j RETURN',
    'mangle OUTPUT -o eth9 -j RETURN',
    'mangle PREROUTING -m conntrack --ctstate INVALID -j DROP',
    'raw OUTPUT -p udp -m udp --dport 53 -m owner --uid-owner 1337 -j CT --zone 1',
    'raw OUTPUT -p udp -m udp --sport 15053 -m owner --gid-owner 1337 -j CT --zone 2',
    'raw OUTPUT -d 10.96.0.10/32 -p udp -m udp --dport 53 -j CT --zone 2',
    'raw OUTPUT -p udp -m udp --dport 53 -j CT --zone 2',
    'raw PREROUTING -s 10.96.0.10/32 -p udp -m udp --sport 53 -j CT --zone 1',
    'raw PREROUTING -p udp -m udp --sport 53 -j CT --zone 1',
    'nat OUTPUT -p udp -m udp --dport 53 -m owner --uid-owner 1337 -j RETURN',
    'nat OUTPUT -d 10.96.0.10/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports 15053',
    'nat PREROUTING -p tcp -j NFLOG --nflog-prefix JumpInbound --nflog-group 1337 --nflog-size 20',
    'mangle PREROUTING -p tcp -j NFLOG --nflog-prefix "JumpInbound" --nflog-group 1337 --nflog-size 20',
    'nat OUTPUT -j NFLOG --nflog-prefix JumpOutbound --nflog-group 1337 --nflog-size 20',
    'nat OUTPUT -p tcp -j NFLOG --nflog-prefix JumpOutbound --nflog-group 1337 --nflog-size 20',
    'nat PREROUTING -i vnet0 -d 10.0.0.0/8 -j NFLOG --nflog-prefix KubevirtCommand --nflog-group 1337 --nflog-size 20',
    'nat PREROUTING -i vnet0 -j NFLOG --nflog-prefix KubevirtCommand --nflog-group 1337 --nflog-size 20',
    'mangle OUTPUT -o eth9 -j NFLOG --nflog-prefix ExcludeInterfaceCommand --nflog-group 1337 --nflog-size 20',
  ];
  for (const line of OURS) test(`ours: ${line}`, () => expect(ourShape(...split(line))).toBeDefined());

  // One thing different from a shape of ours each: foreign, left alone.
  const FOREIGN = [
    'nat PREROUTING -p tcp -j KUBE-SERVICES',
    'nat POSTROUTING -s 192.0.2.0/24 -j MASQUERADE',
    'nat PREROUTING -p tcp -j ISTIO',
    'mangle PREROUTING -p udp -m mark --mark 1337 -j CONNMARK --save-mark',
    'mangle PREROUTING -m mark --mark 1337 -j CONNMARK --save-mark',
    'mangle PREROUTING -p tcp -m mark --mark 0x539/0xff -j CONNMARK --save-mark',
    'mangle PREROUTING -p tcp -m mark ! --mark 1337 -j CONNMARK --save-mark',
    'mangle PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xffffffff',
    'mangle PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --restore-mark',
    'mangle OUTPUT -p tcp -m mark --mark 1337 -j CONNMARK --save-mark',
    'nat PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark',
    'mangle PREROUTING -i eth0 -p tcp -m mark --mark 1337 -j CONNMARK --save-mark',
    'mangle OUTPUT -o eth0 -p tcp -m mark --mark 1337 -j RETURN',
    'mangle OUTPUT -o lo -p tcp -m mark --mark 1337 -j ACCEPT',
    'mangle OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner --uid-owner 1337 -j MARK --set-mark 1339',
    'mangle OUTPUT ! -d 10.0.0.0/8 -o lo -p tcp -m owner --uid-owner 1337 -j MARK --set-mark 1338',
    'mangle OUTPUT -d 127.0.0.1/32 -o lo -p tcp -m owner --uid-owner 1337 -j MARK --set-mark 1338',
    'mangle OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner ! --uid-owner 1337 -j MARK --set-mark 1338',
    'mangle OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -j MARK --set-mark 1338',
    'nat PREROUTING -i eth9 -p tcp -j RETURN',
    'nat PREROUTING ! -i eth9 -j RETURN',
    'nat PREROUTING -i eth9 -j ACCEPT',
    'nat POSTROUTING -o eth9 -j RETURN',
    'nat PREROUTING -o eth9 -j RETURN',
    'raw PREROUTING -i eth9 -j RETURN',
    'mangle PREROUTING -m conntrack --ctstate INVALID,UNTRACKED -j DROP',
    'mangle PREROUTING -m conntrack ! --ctstate INVALID -j DROP',
    'filter INPUT -m conntrack --ctstate INVALID -j DROP',
    'mangle PREROUTING -p tcp -m conntrack --ctstate INVALID -j DROP',
    'raw OUTPUT -p udp -m udp --dport 53 -m owner --uid-owner 1337 -j CT --zone 3',
    'raw OUTPUT -p udp -m udp --dport 54 -j CT --zone 2',
    'raw OUTPUT -p tcp -m tcp --dport 53 -j CT --zone 2',
    'raw OUTPUT -d 10.96.0.0/16 -p udp -m udp --dport 53 -j CT --zone 2',
    'raw OUTPUT -p udp -m udp --dport 53 -j CT --notrack',
    'raw PREROUTING -p udp -m udp --sport 53 -j CT --zone 2',
    'nat OUTPUT -d 10.96.0.10/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports 15054',
    'nat OUTPUT -p udp -m udp --dport 53 -m owner --uid-owner 1337 -j ACCEPT',
    'nat PREROUTING -p tcp -j NFLOG --nflog-prefix JumpInbound --nflog-group 1338 --nflog-size 20',
    'nat PREROUTING -p tcp -j NFLOG --nflog-prefix Inbound --nflog-group 1337 --nflog-size 20',
    'nat PREROUTING -p udp -j NFLOG --nflog-prefix JumpInbound --nflog-group 1337 --nflog-size 20',
    'nat PREROUTING -p tcp -j NFLOG --nflog-prefix JumpInbound --nflog-group 1337',
    'nat OUTPUT -p tcp -j NFLOG --nflog-prefix JumpInbound --nflog-group 1337 --nflog-size 20',
    'nat PREROUTING -p tcp -j LOG --log-prefix JumpInbound',
  ];
  for (const line of FOREIGN) test(`foreign: ${line}`, () => expect(ours(line)).toBe(false));

  test('a rule of an ISTIO_* chain is no business of this test: only built-in chains have shapes', () => {
    expect(ours('nat ISTIO_OUTPUT -o eth9 -j RETURN')).toBe(false);
  });

  test('every rule any golden plan writes into a built-in chain is ours', () => {
    const dir = new URL('../../golden/', import.meta.url);
    let checked = 0;
    for (const name of readdirSync(dir)) {
      let table = '';
      const text = readFileSync(new URL(`${name}/expected.out`, dir), 'utf8');
      for (const line of text.split('\n')) {
        if (line.startsWith('* ') || line.startsWith('*')) table = line.replace('*', '').trim();
        const [op, chain = '', ...rest] = line.split(' ');
        if ((op !== '-A' && op !== '-I') || !isBuiltinChain(chain)) continue;
        const spec = op === '-I' ? rest.slice(1) : rest;
        expect(isOurBuiltinRule(table as TableName, chain, liveRule(chain, spec)), `${name}: ${table} ${line}`).toBe(
          true,
        );
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });
});

describe('the TPROXY marks live rules of ours carry', () => {
  test('from the CONNMARK rules and our chains, not from foreign rules or the outbound mark', () => {
    const live = parseSave(
      [
        '*mangle',
        ':PREROUTING ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        ':ISTIO_DIVERT - [0:0]',
        ':ISTIO_TPROXY - [0:0]',
        '-A PREROUTING -p tcp -m mark --mark 0x4d2 -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff',
        '-A PREROUTING -p udp -m mark --mark 0x63 -j CONNMARK --save-mark',
        '-A OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner --uid-owner 1337 -j MARK --set-xmark 0x53a/0xffffffff',
        '-A OUTPUT -p tcp -m connmark --mark 0x578 -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff',
        '-A ISTIO_DIVERT -j MARK --set-xmark 0x539/0xffffffff',
        '-A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --on-port 15006 --on-ip 0.0.0.0 --tproxy-mark 0x7d0/0xffffffff',
        'COMMIT',
      ].join('\n'),
    );
    expect(liveTproxyMarks(live)).toEqual([1234, 1337, 1400, 2000]);
  });
});
