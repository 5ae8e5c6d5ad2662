/**
 * Reading nft's listing back and comparing it with the plan. The listing below is what nft 1.0.6
 * printed after loading the nft-tproxy-everything scenario's transaction (nat and mangle), so
 * the normal form is checked against the kernel's own spelling.
 */
import { describe, expect, it } from 'vitest';
import { parseIpAddress } from '../../model/network.js';
import { planNftCapture } from '../../plan/nft/plan-nft.js';
import type { CaptureConfig } from '../../config/capture-config.js';
import { compareNft, iptablesModeChains, ownTables } from './compare.js';
import { normalHook, normalRule } from './listing.js';
import { parseRuleset } from './ruleset.js';

const cidr = (text: string) => {
  const [address = '', length = ''] = text.split('/');
  const parsed = parseIpAddress(address, { canonical: true });
  if (typeof parsed === 'string') throw new Error(parsed);
  return { family: parsed.family, address: parsed, prefixLength: Number(length), text };
};

const CONFIG: CaptureConfig = {
  families: ['ipv4', 'ipv6'],
  proxy: { uids: ['1337'], gids: ['1337'] },
  inbound: {
    ports: { kind: 'only', items: [{ first: 80, last: 80 }] },
    capturePort: 15006,
    tunnelPort: { first: 15008, last: 15008 },
    interception: { mode: 'tproxy', mark: 1337, routeTable: 133 },
  },
  outbound: {
    proxyPort: 15001,
    cidrs: { include: [cidr('10.0.0.0/8'), cidr('fd00::/8')], exclude: [] },
    ports: { include: [{ first: 8443, last: 8443 }], exclude: [] },
    ownerGroups: { kind: 'all', except: [] },
  },
  dns: { mode: 'off' },
  interfaces: { exclude: ['eth9'], virtual: ['vnet0'] },
  dropInvalid: true,
  hostIPv4LoopbackCidr: cidr('127.0.0.1/32'),
  strict: false,
  compactRules: false,
  traceLogging: false,
};

const LISTED = `table ip nat {
	chain ISTIO_OUTPUT {
	}
}
table inet istio-proxy-nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "vnet0" ip6 daddr fd00::/8 counter packets 0 bytes 0 jump istio-redirect
		iifname "vnet0" ip daddr 10.0.0.0/8 counter packets 0 bytes 0 jump istio-redirect
		iifname "vnet0" counter packets 0 bytes 0 return
		iifname "eth9" counter packets 0 bytes 0 return
	}

	chain output {
		type nat hook output priority -100; policy accept;
		oifname "eth9" counter packets 0 bytes 0 return
		counter packets 0 bytes 0 jump istio-output
	}

	chain istio-inbound {
		tcp dport 15008 counter packets 0 bytes 0 return
	}

	chain istio-redirect {
		meta l4proto tcp counter packets 0 bytes 0 redirect to :15001
	}

	chain istio-in-redirect {
		meta l4proto tcp counter packets 0 bytes 0 redirect to :15006
	}

	chain istio-output {
		oifname "lo" ip saddr 127.0.0.6 counter packets 0 bytes 0 return
		oifname "lo" ip6 saddr ::6 counter packets 0 bytes 0 return
		oifname "lo" ip daddr != 127.0.0.1 tcp dport != 15008 meta skuid 1337 counter packets 0 bytes 0 jump istio-in-redirect
		oifname "lo" ip6 daddr != ::1 tcp dport != 15008 meta skuid 1337 counter packets 0 bytes 0 jump istio-in-redirect
		oifname "lo" meta skuid != 1337 counter packets 0 bytes 0 return
		meta skuid 1337 counter packets 0 bytes 0 return
		oifname "lo" ip daddr != 127.0.0.1 tcp dport != 15008 meta skgid 1337 counter packets 0 bytes 0 jump istio-in-redirect
		oifname "lo" ip6 daddr != ::1 tcp dport != 15008 meta skgid 1337 counter packets 0 bytes 0 jump istio-in-redirect
		oifname "lo" meta skgid != 1337 counter packets 0 bytes 0 return
		meta skgid 1337 counter packets 0 bytes 0 return
		ip daddr 127.0.0.1 counter packets 0 bytes 0 return
		ip6 daddr ::1 counter packets 0 bytes 0 return
		tcp dport 8443 counter packets 0 bytes 0 jump istio-redirect
		ip daddr 10.0.0.0/8 counter packets 0 bytes 0 jump istio-redirect
		ip6 daddr fd00::/8 counter packets 0 bytes 0 jump istio-redirect
	}
}
table inet istio-proxy-mangle {
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		iifname "eth9" counter packets 0 bytes 0 return
		meta l4proto tcp ct state invalid counter packets 0 bytes 0 jump istio-drop
		meta l4proto tcp counter packets 0 bytes 0 jump istio-inbound
		meta l4proto tcp meta mark 0x00000539 counter packets 0 bytes 0 ct mark set meta mark
	}

	chain output {
		type route hook output priority mangle; policy accept;
		oifname "eth9" counter packets 0 bytes 0 return
		oifname "lo" meta l4proto tcp meta mark 0x00000539 counter packets 0 bytes 0 return
		oifname "lo" meta l4proto tcp ip daddr != 127.0.0.1 meta skuid 1337 counter packets 0 bytes 0 meta mark set 0x0000053a
		oifname "lo" meta l4proto tcp ip6 daddr != ::1 meta skuid 1337 counter packets 0 bytes 0 meta mark set 0x0000053a
		oifname "lo" meta l4proto tcp ip daddr != 127.0.0.1 meta skgid 1337 counter packets 0 bytes 0 meta mark set 0x0000053a
		oifname "lo" meta l4proto tcp ip6 daddr != ::1 meta skgid 1337 counter packets 0 bytes 0 meta mark set 0x0000053a
		meta l4proto tcp ct mark 0x00000539 counter packets 0 bytes 0 meta mark set ct mark
	}

	chain istio-divert {
		counter packets 0 bytes 0 meta mark set 0x00000539
		counter packets 0 bytes 0 accept
	}

	chain istio-tproxy {
		meta l4proto tcp ip daddr != 127.0.0.1 tproxy ip to :15006 meta mark set 0x00000539 counter packets 0 bytes 0 accept
		meta l4proto tcp ip6 daddr != ::1 tproxy ip6 to :15006 meta mark set 0x00000539 counter packets 0 bytes 0 accept
	}

	chain istio-inbound {
		meta l4proto tcp meta mark 0x00000539 counter packets 0 bytes 0 return
		iifname "lo" meta l4proto tcp ip6 saddr ::6 counter packets 0 bytes 0 return
		iifname "lo" meta l4proto tcp meta mark != 0x0000053a counter packets 0 bytes 0 return
		iifname "lo" meta l4proto tcp ip saddr 127.0.0.6 counter packets 0 bytes 0 return
		ct state established,related tcp dport 80 counter packets 12 bytes 720 jump istio-divert
		tcp dport 80 counter packets 0 bytes 0 jump istio-tproxy
	}

	chain istio-drop {
		counter packets 0 bytes 0 drop
	}
}
`;

const NO_IDS = { users: new Map<string, number>(), groups: new Map<string, number>() };
const plan = planNftCapture(CONFIG);

describe('parseRuleset', () => {
  it('reads tables, chains, hook lines and rules, and keeps each table text', () => {
    const tables = parseRuleset(LISTED);
    expect(tables.map((t) => `${t.family} ${t.name}`)).toEqual([
      'ip nat',
      'inet istio-proxy-nat',
      'inet istio-proxy-mangle',
    ]);
    const nat = tables[1];
    expect(nat?.chains.map((c) => c.name)).toEqual(plan.tables[0]?.chains.map((c) => c.chain.name));
    expect(nat?.chains[0]?.hook).toBe('type nat hook prerouting priority dstnat; policy accept;');
    expect(nat?.text.startsWith('table inet istio-proxy-nat {\n')).toBe(true);
    expect(nat?.text.endsWith('\n}\n')).toBe(true);
    expect(iptablesModeChains(tables)).toEqual(['ip nat ISTIO_OUTPUT']);
    expect(ownTables(tables)).toHaveLength(2);
  });
});

describe('compareNft', () => {
  it("matches the kernel's listing of the plan, whatever the counters say", () => {
    expect(compareNft(plan.tables, parseRuleset(LISTED), NO_IDS)).toEqual({ status: 'match' });
  });

  it('is clean without tables of ours, and drifts on any other difference, naming it', () => {
    expect(compareNft(plan.tables, parseRuleset('table ip nat {\n}\n'), NO_IDS)).toEqual({ status: 'clean' });
    const extra = LISTED.replace('\t\ttcp dport 8443', '\t\tcounter accept\n\t\ttcp dport 8443');
    const verdict = compareNft(plan.tables, parseRuleset(extra), NO_IDS);
    expect(verdict.status).toBe('drift');
    expect(verdict.status === 'drift' && verdict.differences[0]).toBe(
      'istio-proxy-nat istio-output rule 13: expected tcp dport 8443 counter jump istio-redirect, found counter accept',
    );
    const hook = LISTED.replace(
      'priority mangle; policy accept;\n\t\tiifname',
      'priority raw; policy accept;\n\t\tiifname',
    );
    expect(compareNft(plan.tables, parseRuleset(hook), NO_IDS).status).toBe('drift');
    const stale = `${LISTED}table inet istio-proxy-raw {\n}\n`;
    expect(compareNft(plan.tables, parseRuleset(stale), NO_IDS)).toEqual({
      status: 'drift',
      differences: ['istio-proxy-raw: table not in the plan'],
    });
  });
});

describe('the normal form', () => {
  it('masks prefixes, drops host lengths, sorts and dedupes sets and states, drops counter values', () => {
    expect(normalRule('ip daddr 127.0.0.1/8 counter return')).toBe('ip daddr 127.0.0.0/8 counter return');
    expect(normalRule('ip6 daddr ::127.0.0.53/128 counter packets 3 bytes 9 return')).toBe(
      normalRule('ip6 daddr ::127.0.0.53 counter return'),
    );
    expect(normalRule('tcp dport != { 53, 53 } ct state related,established counter accept')).toBe(
      'tcp dport != { 53 } ct state established,related counter accept',
    );
    expect(normalRule('ip daddr { 192.0.2.0/24, 10.0.0.5/32 } counter return')).toBe(
      'ip daddr { 10.0.0.5, 192.0.2.0/24 } counter return',
    );
    expect(normalRule('tproxy ip to :15006 meta mark set 0x00000539 counter accept')).toBe(
      'tproxy ip to :15006 meta mark set 0x00000539 counter accept',
    );
  });

  it('reads priority names as the numbers upstream writes', () => {
    expect(normalHook('type nat hook prerouting priority dstnat; policy accept;')).toBe('nat prerouting -100 accept');
    expect(normalHook('type filter hook output priority raw; policy accept;')).toBe('filter output -300 accept');
    expect(normalHook('type route hook output priority -150; policy drop;')).toBe('route output -150 drop');
  });
});
