import { describe, expect, it } from 'vitest';
import { parseCidr, type Cidr } from '../model/network.js';
import { planCapture } from '../plan/plan-capture.js';
import { limitWarnings, ruleCount, thousands } from './limits.js';
import { REDIRECT_IPV4 } from '../../test/support/capture-config.js';

const CONFIG = REDIRECT_IPV4;

/** `n` /32s spread over 198.18.0.0/15, none adjacent. */
function hosts(n: number): Cidr[] {
  return Array.from(
    { length: n },
    (_, i) => parseCidr(`198.${18 + (i >> 15)}.${(i >> 7) & 255}.${(i & 127) * 2}/32`) as Cidr,
  );
}

describe('limitWarnings', () => {
  it('is silent for the usual configuration', () => {
    expect(limitWarnings(planCapture(CONFIG))).toEqual([]);
  });

  it('warns about a payload over 8 KiB before its chain reaches 1 000 rules', () => {
    const plan = planCapture({
      ...CONFIG,
      outbound: { ...CONFIG.outbound, cidrs: { include: 'all', exclude: hosts(400) } },
    });
    expect(limitWarnings(plan)).toEqual([
      expect.stringMatching(
        /^ipv4: the restore payload is [0-9,]+ bytes, over 8,192: some sandboxes refuse restore input that large$/,
      ),
    ]);
  });

  it('warns about each chain over 1 000 rules, per family', () => {
    const plan = planCapture({
      ...CONFIG,
      families: ['ipv4', 'ipv6'],
      outbound: { ...CONFIG.outbound, cidrs: { include: 'all', exclude: hosts(1200) } },
    });
    const warnings = limitWarnings(plan);
    expect(warnings).toContain(
      'ipv4: nat ISTIO_OUTPUT has 1,209 rules, over 1,000: each new connection walks them in order',
    );
    // The IPv6 ruleset has none of the IPv4 CIDRs: small payload, short chains.
    expect(warnings.filter((w) => w.startsWith('ipv6'))).toEqual([]);
  });

  it('takes other limits', () => {
    expect(limitWarnings(planCapture(CONFIG), { payloadBytes: 100, chainRules: 3 })).toEqual([
      expect.stringMatching(/^ipv4: the restore payload is [0-9,]+ bytes, over 100: /),
      'ipv4: nat ISTIO_OUTPUT has 9 rules, over 3: each new connection walks them in order',
    ]);
  });

  it('counts the rules of all families', () => {
    const plan = planCapture({ ...CONFIG, families: ['ipv4', 'ipv6'] });
    expect(ruleCount(plan)).toBe(plan.rulesets[0]!.ops.length + plan.rulesets[1]!.ops.length);
  });
});

describe('thousands', () => {
  it.each([
    [0, '0'],
    [999, '999'],
    [1000, '1,000'],
    [8192, '8,192'],
    [1234567, '1,234,567'],
  ])('%i → %s', (n, text) => {
    expect(thousands(n)).toBe(text);
  });
});
