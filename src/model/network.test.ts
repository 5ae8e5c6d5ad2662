/** Ports, addresses and CIDRs. Longer than ~200 lines: one table of cases per value type. */
import { describe, expect, it } from 'vitest';
import { formatIpv6, isLoopbackAddress, parseCidr, parseIpAddress, type IpAddress } from './network.js';

/** An IPv6 value from its eight 16-bit groups. */
const groups = (...g: number[]): bigint => g.reduce((acc, x) => (acc << 16n) | BigInt(x), 0n);

describe('formatIpv6 (RFC 5952, as Go netip prints)', () => {
  it.each([
    [groups(0, 0, 0, 0, 0, 0, 0, 0), '::'],
    [groups(0, 0, 0, 0, 0, 0, 0, 1), '::1'],
    [groups(1, 0, 0, 0, 0, 0, 0, 0), '1::'],
    [groups(0x2001, 0x0db8, 0, 0, 0, 0, 0, 1), '2001:db8::1'],
    [groups(0xabcd, 0xef01, 0, 0, 0, 0, 0, 0xa), 'abcd:ef01::a'],
    // a single zero group is never compressed
    [groups(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1), '2001:db8:0:1:1:1:1:1'],
    [groups(1, 2, 3, 4, 5, 6, 7, 0), '1:2:3:4:5:6:7:0'],
    [groups(1, 2, 3, 4, 5, 6, 0, 0), '1:2:3:4:5:6::'],
    // the longest run wins; on a tie, the first
    [groups(0x2001, 0, 0, 1, 0, 0, 0, 1), '2001:0:0:1::1'],
    [groups(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1), '2001:db8::1:0:0:1'],
    [groups(0x2001, 0xdb8, 0, 0, 1, 0, 0, 0), '2001:db8:0:0:1::'],
    // IPv4-mapped addresses keep the dotted quad; IPv4-compatible ones do not
    [groups(0, 0, 0, 0, 0, 0xffff, 0x0a01, 0x0203), '::ffff:10.1.2.3'],
    [groups(0, 0, 0, 0, 0, 0xffff, 0, 0), '::ffff:0.0.0.0'],
    [groups(0, 0, 0, 0, 0, 0, 0x0102, 0x0304), '::102:304'],
    [groups(0, 0, 0, 0, 1, 0xffff, 0x0a01, 0x0203), '::1:ffff:a01:203'],
    [groups(0, 0, 0, 0, 0, 0, 0x7f00, 0x35), '::7f00:35'],
  ])('%s → %s', (value, text) => {
    expect(formatIpv6(value)).toBe(text);
  });
});

describe('parseIpAddress', () => {
  it('re-spells only when asked to', () => {
    expect(parseIpAddress('2001:DB8:0::53', { canonical: true })).toMatchObject({
      family: 'ipv6',
      text: '2001:db8::53',
    });
    expect(parseIpAddress('2001:DB8:0::53', { canonical: false })).toMatchObject({
      family: 'ipv6',
      text: '2001:DB8:0::53',
    });
    expect(parseIpAddress('::127.0.0.53', { canonical: true })).toMatchObject({ text: '::7f00:35' });
    expect(parseIpAddress('::FFFF:1.2.3.4', { canonical: true })).toMatchObject({
      family: 'ipv6',
      text: '::ffff:1.2.3.4',
    });
    expect(parseIpAddress('10.96.0.10', { canonical: true })).toMatchObject({
      family: 'ipv4',
      text: '10.96.0.10',
      value: 0x0a60000an,
    });
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.',
    '256.1.1.1',
    '01.2.3.4',
    ' 1.2.3.4',
    'fe80::1%eth0',
    '1:2:3:4:5:6:7',
    '1::2::3',
    '12345::',
    '::1.2.3',
    'a:b',
    '1.2.3.4/32',
  ])('rejects %j', (text) => {
    expect(typeof parseIpAddress(text, { canonical: true })).toBe('string');
  });
});

describe('parseCidr (strict, as netip.ParsePrefix; spec §3.2)', () => {
  it.each([
    ['10.0.0.0/8', 'ipv4', '10.0.0.0/8'],
    // not masked
    ['10.0.0.1/8', 'ipv4', '10.0.0.1/8'],
    ['0.0.0.0/0', 'ipv4', '0.0.0.0/0'],
    ['1.2.3.4/32', 'ipv4', '1.2.3.4/32'],
    // canonicalised
    ['2001:DB8:0::/32', 'ipv6', '2001:db8::/32'],
    ['2001:0db8:0:0:1:0:0:0/80', 'ipv6', '2001:db8:0:0:1::/80'],
    ['::/0', 'ipv6', '::/0'],
    ['::1/128', 'ipv6', '::1/128'],
    // IPv4-mapped counts as IPv6
    ['::ffff:1.2.3.0/120', 'ipv6', '::ffff:1.2.3.0/120'],
  ])('accepts %s', (text, family, canonical) => {
    expect(parseCidr(text)).toMatchObject({ family, text: canonical });
  });

  it('keeps the prefix length and the unmasked address', () => {
    expect(parseCidr('10.1.2.3/8')).toMatchObject({ prefixLength: 8, address: { value: 0x0a010203n } });
  });

  it.each([
    '10.0.0.0', // no '/'
    '10.0.0.0/',
    '/8',
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0.0/08', // leading zero
    '10.0.0.0/+8',
    '10.0.0.0/-1',
    '10.0.0.0/ 8',
    '10.0.0.0/8 ',
    ' 10.0.0.0/8', // not trimmed
    '010.0.0.0/8', // leading zero in an octet
    '10.0.0.00/8',
    '10.0.0/8',
    '256.0.0.0/8',
    'fe80::1%eth0/64', // zone
    '1::2::3/64',
    '1:2:3:4:5:6:7:8:9/64',
    '::ffff:1.2.3.04/120',
    '10.0.0.0/8/8',
    '*',
    '*,10.0.0.0/8',
    '10.0.0.0/8,10.1.0.0/16',
    'abc/8',
  ])('rejects %j', (text) => {
    expect(typeof parseCidr(text)).toBe('string');
  });
});

describe('isLoopbackAddress (the address only, IPv4-mapped unmapped first, as Go)', () => {
  const address = (text: string) => parseIpAddress(text, { canonical: true }) as IpAddress;
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['128.0.0.1', false],
    ['0.0.0.0', false],
    ['::1', true],
    ['::2', false],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['::ffff:127.255.0.9', true],
    ['0:0:0:0:0:FFFF:7F00:0001', true],
    ['::ffff:128.0.0.1', false],
    ['::ffff:126.255.255.255', false],
    // IPv4-compatible (not mapped) addresses are not unmapped by Go
    ['::127.0.0.1', false],
    ['::1:ffff:7f00:1', false],
  ])('%s → %s', (text, loopback) => {
    expect(isLoopbackAddress(address(text))).toBe(loopback);
  });
});
