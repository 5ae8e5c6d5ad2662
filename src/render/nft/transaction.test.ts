/** nft spellings of user-given values: upstream's bare words where nft reads them, quotes otherwise. */
import { describe, expect, it } from 'vitest';
import { matchText, nftString } from './transaction.js';

describe('nftString', () => {
  it.each(['eth0', 'lo', 'veth*', 'not-istio-nic', 'br.100', 'java', '_apt'])('leaves %s bare', (name) => {
    expect(nftString(name)).toBe(name);
  });

  it.each(['0eth', 'eth@1', 'foo$', 'a#b', 'x;y', 'a{b}', 'eth+'])(
    'quotes %s, which nft would not read bare',
    (name) => {
      expect(nftString(name)).toBe(`"${name}"`);
    },
  );
});

describe('matchText', () => {
  it('writes numeric owners bare and names through nftString', () => {
    expect(matchText({ kind: 'owner', owner: 'gid', id: '1337', negated: true })).toBe('skgid != 1337');
    expect(matchText({ kind: 'owner', owner: 'uid', id: 'foo$', meta: true })).toBe('meta skuid "foo$"');
  });

  it("writes port ranges in nft's first-last form, and sets with braces", () => {
    const range = { first: 1000, last: 2000 };
    expect(matchText({ kind: 'port', protocol: 'tcp', field: 'dport', ports: [range] })).toBe('tcp dport 1000-2000');
    expect(
      matchText({
        kind: 'port',
        protocol: 'tcp',
        field: 'dport',
        ports: [{ first: 53, last: 53 }],
        set: true,
        negated: true,
      }),
    ).toBe('tcp dport != { 53 }');
    expect(matchText({ kind: 'address', family: 'ip6', field: 'daddr', values: ['fd00::/8', '2001:db8::/32'] })).toBe(
      'ip6 daddr { fd00::/8, 2001:db8::/32 }',
    );
  });
});
