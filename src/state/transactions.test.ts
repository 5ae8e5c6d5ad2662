import { describe, expect, it } from 'vitest';
import type { Ruleset } from '../model/netfilter.js';
import { expectedState } from './compare.js';
import { rollbackPayload, stateBeforeRestore } from './transactions.js';

/** Ours: a chain, a jump into it, and a plain rule in OUTPUT. */
const ruleset: Ruleset = {
  family: 'ipv4',
  ops: [
    {
      op: 'append',
      rule: {
        table: 'nat',
        chain: 'ISTIO_OUTPUT',
        matches: [{ kind: 'protocol', protocol: 'tcp' }],
        target: { kind: 'redirect', toPort: 15001 },
      },
    },
    {
      op: 'append',
      rule: {
        table: 'nat',
        chain: 'OUTPUT',
        matches: [{ kind: 'outInterface', name: 'lo' }],
        target: { kind: 'return' },
      },
    },
    {
      op: 'append',
      rule: { table: 'nat', chain: 'OUTPUT', matches: [], target: { kind: 'jump', chain: 'ISTIO_OUTPUT' } },
    },
  ],
};
const expected = expectedState(ruleset);

const header = '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n';
const raw = '*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -o lo -j RETURN\nCOMMIT\n';

describe('stateBeforeRestore', () => {
  it('takes our chains and the ends of the built-in chains off, keeping foreign rules and their order', () => {
    // A foreign rule identical to one of ours came first: the copy at the end is ours.
    const before = `${header}-A OUTPUT -o lo -j RETURN\n-A OUTPUT -d 192.0.2.1/32 -j RETURN\nCOMMIT\n`;
    const after = `${raw}${header}:ISTIO_OUTPUT - [0:0]\n-A OUTPUT -o lo -j RETURN\n-A OUTPUT -d 192.0.2.1/32 -j RETURN\n-A OUTPUT -o lo -j RETURN\n-A OUTPUT -j ISTIO_OUTPUT\n-A ISTIO_OUTPUT -p tcp -j REDIRECT --to-ports 15001\nCOMMIT\n`;
    const found = stateBeforeRestore(after, 'nat', expected);
    expect(found).toBe(`${raw}${before}`);
    expect(rollbackPayload(found ?? '', ['nat'])).toBe(before);
  });

  it('is undefined when a built-in chain does not end with our rules (changed meanwhile)', () => {
    const after = `${header}:ISTIO_OUTPUT - [0:0]\n-A OUTPUT -o lo -j RETURN\n-A OUTPUT -j ISTIO_OUTPUT\n-A OUTPUT -d 192.0.2.1/32 -j RETURN\n-A ISTIO_OUTPUT -p tcp -j REDIRECT --to-ports 15001\nCOMMIT\n`;
    expect(stateBeforeRestore(after, 'nat', expected)).toBeUndefined();
  });

  it('is undefined when our rules are missing from a built-in chain', () => {
    const after = `${header}:ISTIO_OUTPUT - [0:0]\n-A OUTPUT -j ISTIO_OUTPUT\n-A ISTIO_OUTPUT -p tcp -j REDIRECT --to-ports 15001\nCOMMIT\n`;
    expect(stateBeforeRestore(after, 'nat', expected)).toBeUndefined();
  });

  it('keeps owned chains the plan does not have: they were there before', () => {
    const after = `${header}:ISTIO_OUTPUT - [0:0]\n:ISTIO_DROP - [0:0]\n-A OUTPUT -o lo -j RETURN\n-A OUTPUT -j ISTIO_OUTPUT\n-A ISTIO_OUTPUT -p tcp -j REDIRECT --to-ports 15001\nCOMMIT\n`;
    expect(stateBeforeRestore(after, 'nat', expected)).toBe(`${header}:ISTIO_DROP - [0:0]\nCOMMIT\n`);
  });
});
