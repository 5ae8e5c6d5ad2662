import { describe, expect, it } from 'vitest';
import { checkInterfaceName, checkOwnerId } from './names.js';

describe('names that go into rules', () => {
  it.each(['eth0', 'veth1234567890a', 'eth+', 'br-1a2b', 'vnet0.100'])('interface %j is accepted', (name) => {
    expect(checkInterfaceName(name)).toBeUndefined();
  });

  it.each([
    '',
    '0123456789abcdef',
    'ethé12345678901',
    'eth 0',
    'a/b',
    'a:b',
    'a"b',
    "a'b",
    'a\\b',
    '-jACCEPT',
    '!eth0',
    '.',
    '..',
    'a\u0000b',
    'a\u0001b',
    'a\u007fb',
    'eth0\n-A',
  ])('interface %j is refused', (name) => {
    expect(checkInterfaceName(name)).toBeTypeOf('string');
  });

  it.each(['0', '1337', '4294967294', 'istio-proxy', '_apt', 'user.name', 'machine$', '1000-2000', '1000:2000', '7-7'])(
    'owner %j is accepted',
    (id) => {
      expect(checkOwnerId(id)).toBeUndefined();
    },
  );

  it.each([
    '',
    '-1',
    '4294967295',
    '01337',
    'a b',
    '1337 -j ACCEPT',
    '$x',
    '*',
    'a'.repeat(33),
    'java\n-A',
    '2000-1000',
    '1000-',
    '-1000',
    '1000-4294967295',
    '0x539',
    '1000 - 2000',
  ])('owner %j is refused', (id) => {
    expect(checkOwnerId(id)).toBeTypeOf('string');
  });
});
