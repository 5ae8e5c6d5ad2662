/**
 * The record builder and the insert→append conversion (spec §8.2), checked against upstream's
 * builder goldens (spec §15.1: the kernel order after the transaction) and the transaction text.
 */
import { describe, expect, it } from 'vitest';
import type { NftAction, NftMatch } from '../../model/nftables.js';
import { renderTransaction, ruleText } from '../../render/nft/transaction.js';
import { NftRecords, tablesAfter } from './builder.js';
import { daddr, jump, redirect, RETURN, TCP, tcpDport } from './matches.js';

type Step = { insert?: number; v6?: true; matches: NftMatch[]; action: NftAction };
const tunnel: Step = { matches: [tcpDport(15008)], action: RETURN };
const v4: Step = { matches: [daddr('ipv4', '127.0.0.1')], action: RETURN };
const v6: Step = { v6: true, matches: [daddr('ipv6', '::ffff:7f00:1')], action: RETURN };
const toChain: Step = { matches: [TCP], action: jump('istio-output') };
const toProxy: Step = { matches: [TCP], action: redirect(15001) };

function build(steps: Step[], ipv6 = true) {
  const records = new NftRecords(ipv6 ? ['ipv4', 'ipv6'] : ['ipv4']);
  for (const s of steps) {
    if (s.v6) records.v6('nat', 'istio-output', s.matches, s.action, s.insert);
    else if (s.insert === undefined) records.add('nat', 'istio-output', s.matches, s.action);
    else records.insert('nat', 'istio-output', s.insert, s.matches, s.action);
  }
  const transaction = records.transaction();
  const rules = tablesAfter(transaction)[0]?.chains[0]?.rules ?? [];
  return { text: renderTransaction(transaction), order: rules.map(ruleText) };
}

const texts = (...steps: Step[]) => steps.map((s) => ruleText({ matches: s.matches, action: s.action }));

describe("upstream's builder goldens: the kernel order after the transaction", () => {
  it.each([
    ['append-multi', [tunnel, toChain, toProxy], [tunnel, toChain, toProxy]],
    ['insert-single-v4', [tunnel, { ...v4, insert: 0 }], [v4, tunnel]],
    ['insert-single-v6', [tunnel, { ...v6, insert: 0 }], [v6, tunnel]],
    ['insert-multi', [tunnel, { ...toChain, insert: 0 }, { ...toProxy, insert: 1 }], [toChain, toProxy, tunnel]],
    ['append-insert-multi', [tunnel, { ...toChain, insert: 0 }, toProxy], [toChain, tunnel, toProxy]],
    ['multi-rules-v4-v6', [v4, { ...tunnel, insert: 0 }, v6], [tunnel, v4, v6]],
  ] as const)('%s', (_name, steps, order) => {
    expect(build([...steps]).order).toEqual(texts(...order));
  });

  it('drops IPv6-only records when IPv6 is off', () => {
    expect(build([v4, v6], false).order).toEqual(texts(v4));
  });
});

describe('the insert→append conversion in the text', () => {
  it('writes an insert into an empty chain, or at or past its end, as an append', () => {
    const { text } = build([
      { ...v4, insert: 0 },
      { ...tunnel, insert: 0 },
      { ...toProxy, insert: 2 },
    ]);
    expect(text.split('\n').filter((l) => l.includes(' rule '))).toEqual([
      'add rule inet istio-proxy-nat istio-output ip daddr 127.0.0.1 counter return',
      'insert rule inet istio-proxy-nat istio-output index 0 tcp dport 15008 counter return',
      'add rule inet istio-proxy-nat istio-output meta l4proto tcp counter redirect to :15001',
    ]);
  });

  it('declares only chains that hold a rule, and no table without one', () => {
    const records = new NftRecords(['ipv4']);
    expect(renderTransaction(records.transaction())).toBe('');
    records.add('raw', 'output', [], jump('istio-output-dns'));
    expect(renderTransaction(records.transaction())).toBe(
      [
        'add table inet istio-proxy-raw',
        'flush table inet istio-proxy-raw',
        'add chain inet istio-proxy-raw output { type filter hook output priority -300 ; }',
        'add rule inet istio-proxy-raw output counter jump istio-output-dns',
        '',
      ].join('\n'),
    );
  });
});
