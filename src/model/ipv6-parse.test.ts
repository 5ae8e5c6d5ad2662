/**
 * `ipv6Value` replaced ip-num's validator and parser (too slow to load for every run). It must
 * accept, reject and value exactly what the ip-num path did: checked on fixed cases and on
 * generated ones (a seeded generator, so a failure reproduces).
 */
import { IPv6, Validator } from 'ip-num';
import { describe, expect, it } from 'vitest';
import { ipv6Value, parseIpAddress } from './network.js';

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

/** What parseIpAddress did before, for text of IPv6 characters only. */
function viaIpNum(text: string): bigint | undefined {
  const tail = text.slice(text.lastIndexOf(':') + 1);
  if (tail.includes('.') && !IPV4.test(tail)) return undefined;
  return Validator.isValidIPv6String(text)[0] ? IPv6.fromString(text).getValue() : undefined;
}

function generator(seed: number) {
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const odd = ['0', '00', '000', '0000', '00000', 'ffff', 'FFFF', 'fffff', '12345', '', 'g'];
  const field = () =>
    rnd(6) === 0
      ? odd[rnd(odd.length)]!
      : rnd(65536)
          .toString(rnd(2) ? 16 : 10)
          .slice(0, 4);
  const badV4 = ['01.2.3.4', '1.2.3', '256.1.1.1', '1.2.3.4.5', '0.0.0.0'];
  const v4 = () => (rnd(5) === 0 ? badV4[rnd(badV4.length)]! : `${rnd(256)}.${rnd(256)}.${rnd(256)}.${rnd(256)}`);
  return (): string => {
    if (rnd(6) === 0) {
      const chars = '0123456789abcdefABCDEF:.';
      return Array.from({ length: 1 + rnd(20) }, () => chars[rnd(chars.length)]).join('');
    }
    const embedded = rnd(3) === 0;
    const fields = Array.from({ length: (embedded ? 6 : 8) + (rnd(6) === 0 ? rnd(3) - 1 : 0) }, field);
    if (embedded) fields.push(rnd(8) === 0 && fields.length > 0 ? `${fields.pop()}.${v4()}` : v4());
    if (rnd(3) === 0) return fields.join(':');
    const from = rnd(fields.length + 1);
    const length = rnd(fields.length - from + 1 + (rnd(5) === 0 ? 1 : 0));
    return `${fields.slice(0, from).join(':')}${rnd(10) === 0 ? ':::' : '::'}${fields.slice(from + length).join(':')}`;
  };
}

describe('ipv6Value', () => {
  it.each([
    ['::', 0n],
    ['::1', 1n],
    ['1::', 1n << 112n],
    ['2001:db8::8:800:200c:417a', 0x20010db8000000000008080020_0c417an],
    ['::ffff:192.0.2.1', 0xffffc0000201n],
    ['1:2:3:4:5:6:192.0.2.1', 0x0001000200030004000500_06c0000201n],
    ['1:2:3:4:5:6:7::', 0x0001000200030004000500060007_0000n],
    ['::2:3:4:5:6:7:8', 0x0000000200030004000500060007_0008n],
    ['0000:0:00:000:0:0:0:FFFF', 0xffffn],
  ])('%s', (text, value) => {
    expect(ipv6Value(text)).toBe(value);
  });

  it.each([
    '',
    ':',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1::2::3',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '12345::',
    'g::',
    ':1::',
    '1::2:',
    '1.2.3.4::',
    '::1.2.3.4:1',
    '1:2:3:4:5:6:7:1.2.3.4',
    '::01.2.3.4',
    '::256.0.0.1',
  ])('rejects %j', (text) => {
    expect(ipv6Value(text)).toBeUndefined();
  });

  it('agrees with the ip-num validator and value on 50 000 generated strings', () => {
    const next = generator(20240601);
    let valid = 0;
    const differences: string[] = [];
    for (let i = 0; i < 50_000; i++) {
      const text = next();
      if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(':')) continue;
      const expected = viaIpNum(text);
      if (expected !== undefined) valid++;
      const got = parseIpAddress(text, { canonical: false });
      const value = typeof got === 'string' ? undefined : got.value;
      if (value !== expected) differences.push(`${text}: ip-num ${expected}, ours ${value}`);
    }
    expect(differences.slice(0, 10)).toEqual([]);
    // The generator must produce a fair share of valid addresses, or the check proves little.
    expect(valid).toBeGreaterThan(4_000);
  });
});
