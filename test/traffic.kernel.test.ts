/**
 * Issue: prove the traffic is captured. The rules are applied by the built CLI into a "pod"
 * namespace; real TCP/UDP connections then show where traffic lands. Every listener answers
 * with its name, the destination the client meant (SO_ORIGINAL_DST for nat REDIRECT, the
 * local address for TPROXY) and the client's address, so each expectation names exactly one
 * listener and one original destination: a wrong capture, a lost original destination or a
 * missing capture all fail it. Topology and servers: test/support/traffic.ts.
 */
import { describe, expect, test } from 'vitest';
import { kernelSkipReason, readableBin, sh } from './support/kernel.js';
import {
  APP,
  at,
  backendArgs,
  NET,
  PROXY,
  PROXY_GROUP_ONLY,
  ROOT,
  startStandardServers,
  withNamespacePair,
  type Addresses,
  type Backend,
  type Family,
  type Mode,
  type Pair,
  type Side,
  type Who,
} from './support/traffic.js';

const BACKENDS: readonly Backend[] = ['nft', 'legacy', 'native-nftables'];
const BOTH_MODES: readonly Mode[] = ['REDIRECT', 'TPROXY'];
const BOTH_FAMILIES: readonly Family[] = ['ipv4', 'ipv6'];

const common = (mode: Mode) => ['-p', '15001', '-z', '15006', '-u', '1337', '-g', '1337', '-m', mode];

/** A listener's answer, normalized: who accepted, where the client meant to go, who the client was. */
const reply = (server: string, orig: string, src: string) => `${server} orig=${orig} src=${src}`;
/** A UDP answer: `orig` is the listener's own address; `from` is where the client saw the answer come from. */
const udpReply = (server: string, orig: string, src: string, from: string) =>
  `${reply(server, orig, src)} from=${from}`;

interface Check {
  readonly what: string;
  readonly from: Side;
  /** Default: the app (uid/gid 1000) in the pod, root in the peer. */
  readonly as?: Who;
  readonly proto?: 'tcp' | 'udp';
  readonly to: (n: Addresses) => readonly [host: string, port: number];
  /** The client's source address. */
  readonly bind?: (n: Addresses) => string;
  readonly expect: (n: Addresses) => string;
  /** Only in this mode. */
  readonly only?: Mode;
}

interface Scenario {
  readonly name: string;
  readonly modes: readonly Mode[];
  readonly families: readonly Family[];
  /** Flags besides the common ones; `nic` is the pod's second link. */
  readonly args: (n: Addresses, nic: string) => string[];
  readonly checks: readonly Check[];
}

// Checks used by several scenarios.
const INBOUND_8080_CAPTURED: Check = {
  what: 'peer → pod:8080 lands on 15006, original destination and source kept',
  from: 'peer',
  to: (n) => [n.pod, 8080],
  expect: (n) => reply('proxy15006', at(n.pod, 8080), n.peer),
};
const INBOUND_9090_DIRECT: Check = {
  what: 'peer → pod:9090 reaches the app',
  from: 'peer',
  to: (n) => [n.pod, 9090],
  expect: (n) => reply('app', at(n.pod, 9090), n.peer),
};
const outboundCaptured = (dest: (n: Addresses) => string, port: number, what: string): Check => ({
  what,
  from: 'pod',
  to: (n) => [dest(n), port],
  expect: (n) => reply('proxy15001', at(dest(n), port), n.pod),
});
const outboundDirect = (dest: (n: Addresses) => string, port: number, what: string, as: Who = APP): Check => ({
  what,
  from: 'pod',
  as,
  to: (n) => [dest(n), port],
  expect: (n) => reply('external', at(dest(n), port), n.pod),
});
const DNS_SERVERS = ['--redirect-dns', '--dns-servers-v4', NET.ipv4.peer, '--dns-servers-v6', NET.ipv6.peer];

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'inbound -b "*" -d 9090: captured with the original destination; excluded port and tunnel port reach their listeners',
    modes: BOTH_MODES,
    families: BOTH_FAMILIES,
    args: () => ['-b', '*', '-d', '9090'],
    checks: [
      INBOUND_8080_CAPTURED,
      INBOUND_9090_DIRECT,
      {
        what: 'peer → pod:15008 (tunnel port) is not captured',
        from: 'peer',
        to: (n) => [n.pod, 15008],
        expect: (n) => reply('tunnel15008', at(n.pod, 15008), n.peer),
        // In TPROXY mode upstream captures it (§15.1): see the strict scenarios below.
        only: 'REDIRECT',
      },
    ],
  },
  {
    name: 'inbound -b 8080 (explicit list): 8080 captured, 9090 reaches the app',
    modes: BOTH_MODES,
    families: BOTH_FAMILIES,
    args: () => ['-b', '8080'],
    checks: [INBOUND_8080_CAPTURED, INBOUND_9090_DIRECT],
  },
  {
    name: 'outbound -i "*": the app is captured to 15001; the proxy uid and the proxy gid bypass',
    modes: BOTH_MODES,
    families: BOTH_FAMILIES,
    args: () => ['-b', '*', '-i', '*'],
    checks: [
      outboundCaptured((n) => n.ext, 80, 'app (uid 1000) → external:80 lands on 15001, original destination kept'),
      outboundDirect((n) => n.ext, 80, 'proxy (uid/gid 1337) → external:80 is not captured', PROXY),
      outboundDirect((n) => n.ext, 80, 'uid 1500 with gid 1337 → external:80 is not captured', PROXY_GROUP_ONLY),
    ],
  },
  {
    name: 'loopback: the app over lo bypasses, the proxy calling the pod IP is inbound, 127.0.0.6/::6 passes through',
    modes: BOTH_MODES,
    families: BOTH_FAMILIES,
    args: () => ['-b', '*', '-i', '*'],
    checks: [
      {
        what: 'app → localhost:8080 reaches the app',
        from: 'pod',
        to: (n) => [n.loopback, 8080],
        expect: (n) => reply('app', at(n.loopback, 8080), n.loopback),
      },
      {
        what: 'app → its own pod IP:8080 (over lo) reaches the app',
        from: 'pod',
        to: (n) => [n.pod, 8080],
        expect: (n) => reply('app', at(n.pod, 8080), n.pod),
      },
      {
        what: 'proxy → pod IP:8080 over lo lands on 15006 with the original destination',
        from: 'pod',
        as: PROXY,
        to: (n) => [n.pod, 8080],
        expect: (n) => reply('proxy15006', at(n.pod, 8080), n.pod),
        only: 'REDIRECT',
      },
      {
        // The same nat REDIRECT in TPROXY mode; a transparent listener reports its local address.
        what: 'proxy → pod IP:8080 over lo lands on 15006 (nat REDIRECT to localhost)',
        from: 'pod',
        as: PROXY,
        to: (n) => [n.pod, 8080],
        expect: (n) => reply('proxy15006', at(n.loopback, 15006), n.pod),
        only: 'TPROXY',
      },
      {
        what: 'proxy from the passthrough address → pod IP:8080 reaches the app',
        from: 'pod',
        as: PROXY,
        bind: (n) => n.passthrough,
        to: (n) => [n.pod, 8080],
        expect: (n) => reply('app', at(n.pod, 8080), n.passthrough),
      },
    ],
  },
  {
    name: '-x: an excluded CIDR is reached directly, other destinations are captured',
    modes: ['REDIRECT'],
    families: BOTH_FAMILIES,
    args: (n) => ['-i', '*', '-x', n.host(n.ext)],
    checks: [
      outboundDirect((n) => n.ext, 80, 'app → excluded external:80 is not captured'),
      outboundCaptured((n) => n.ext2, 80, 'app → other external:80 lands on 15001'),
    ],
  },
  {
    name: '-i list: only the included CIDRs are captured',
    modes: ['REDIRECT'],
    families: BOTH_FAMILIES,
    args: (n) => ['-i', n.host(n.ext2)],
    checks: [
      outboundCaptured((n) => n.ext2, 80, 'app → included external:80 lands on 15001'),
      outboundDirect((n) => n.ext, 80, 'app → external:80 outside the list is not captured'),
    ],
  },
  {
    name: '-o 8443: an excluded outbound port bypasses, other ports are captured',
    modes: ['REDIRECT'],
    families: BOTH_FAMILIES,
    args: () => ['-i', '*', '-o', '8443'],
    checks: [
      outboundDirect((n) => n.ext, 8443, 'app → external:8443 is not captured'),
      outboundCaptured((n) => n.ext, 80, 'app → external:80 lands on 15001'),
    ],
  },
  {
    // Rule order (§5 steps 14, 15): `-d X -j RETURN` for -x comes before the -q redirect, so an
    // excluded CIDR wins over an included port. The -q rule only adds ports -i does not cover.
    name: '-q 8443 with -x and no -i: the port is captured, except to the excluded CIDR',
    modes: ['REDIRECT'],
    families: BOTH_FAMILIES,
    args: (n) => ['-i', '', '-x', n.host(n.ext), '-q', '8443'],
    checks: [
      outboundCaptured((n) => n.ext2, 8443, 'app → external:8443 lands on 15001'),
      outboundDirect((n) => n.ext2, 80, 'app → external:80 is not captured (no -i)'),
      outboundDirect((n) => n.ext, 8443, 'app → excluded external:8443 is not captured (-x RETURN precedes -q)'),
    ],
  },
  {
    name: '-c: traffic through the excluded interface is not captured, either way; through the other one it is',
    modes: BOTH_MODES,
    families: BOTH_FAMILIES,
    args: (_n, nic) => ['-b', '*', '-i', '*', '-c', nic],
    checks: [
      INBOUND_8080_CAPTURED,
      {
        what: 'peer → pod:8080 through the excluded interface reaches the app',
        from: 'peer',
        to: (n) => [n.pod2, 8080],
        expect: (n) => reply('app', at(n.pod2, 8080), n.peer2),
      },
      {
        what: 'app → peer:80 out through the excluded interface is not captured',
        from: 'pod',
        to: (n) => [n.peer2, 80],
        expect: (n) => reply('external', at(n.peer2, 80), n.pod2),
      },
      outboundCaptured((n) => n.ext, 80, 'app → external:80 out through the main interface lands on 15001'),
    ],
  },
  {
    // REDIRECT mode only: in TPROXY mode with inbound capture on, mangle PREROUTING TPROXYs the
    // VM's connection to the 15006 listener before nat PREROUTING sees it (upstream's rules too).
    name: '-k: traffic entering through the virtual interface to an outside address goes to 15001',
    modes: ['REDIRECT'],
    families: BOTH_FAMILIES,
    args: (_n, nic) => ['-b', '*', '-i', '*', '-k', nic],
    checks: [
      {
        what: 'VM (peer, second link) → outside:80 lands on 15001 with the original destination',
        from: 'peer',
        to: (n) => [n.nowhere, 80],
        expect: (n) => reply('proxy15001', at(n.nowhere, 80), n.peer2),
      },
      INBOUND_8080_CAPTURED,
    ],
  },
  ...(['servers', 'all'] as const).map(
    (dns): Scenario => ({
      name:
        dns === 'servers'
          ? "DNS --redirect-dns --dns-servers-*: the app's queries to the resolver land on 15053; the proxy's own reach the resolver"
          : "DNS --redirect-dns --capture-all-dns: the app's queries to any server land on 15053; the proxy's own reach the resolver",
      modes: ['REDIRECT'],
      families: BOTH_FAMILIES,
      args: () => ['-i', '*', ...(dns === 'servers' ? DNS_SERVERS : ['--redirect-dns', '--capture-all-dns'])],
      checks: [
        {
          what: 'app UDP → resolver:53 is answered by 15053, seemingly from the resolver',
          from: 'pod',
          proto: 'udp',
          to: (n) => [n.peer, 53],
          expect: (n) => udpReply('dns15053', at(n.loopback, 15053), n.pod, at(n.peer, 53)),
        },
        {
          what: 'app TCP → resolver:53 lands on 15053, original destination kept',
          from: 'pod',
          to: (n) => [n.peer, 53],
          expect: (n) => reply('dns15053', at(n.peer, 53), n.pod),
        },
        {
          what: 'proxy UDP → resolver:53 reaches the resolver (no loop)',
          from: 'pod',
          as: PROXY,
          proto: 'udp',
          to: (n) => [n.peer, 53],
          expect: (n) => udpReply('resolver', at(n.peer, 53), n.pod, at(n.peer, 53)),
        },
        {
          what: 'proxy TCP → resolver:53 reaches the resolver (no loop)',
          from: 'pod',
          as: PROXY,
          to: (n) => [n.peer, 53],
          expect: (n) => reply('resolver', at(n.peer, 53), n.pod),
        },
        {
          what:
            dns === 'servers'
              ? 'app UDP → another server:53 is not captured'
              : 'app UDP → another server:53 is answered by 15053',
          from: 'pod',
          proto: 'udp',
          to: (n) => [n.ext, 53],
          expect: (n) =>
            dns === 'servers'
              ? udpReply('resolver', at(n.ext, 53), n.pod, at(n.ext, 53))
              : udpReply('dns15053', at(n.loopback, 15053), n.pod, at(n.ext, 53)),
        },
      ],
    }),
  ),
  // Strict mode, each bug as a pair: upstream's output shows it, --strict fixes it.
  ...([false, true] as const).map(
    (strict): Scenario => ({
      name: strict
        ? 'TPROXY -b "*" --strict: the tunnel port 15008 reaches its listener'
        : 'TPROXY -b "*" (upstream output, §15.1): the tunnel port 15008 is captured to 15006',
      modes: ['TPROXY'],
      families: BOTH_FAMILIES,
      args: () => ['-b', '*', ...(strict ? ['--strict'] : [])],
      checks: [
        {
          what: `peer → pod:15008 ${strict ? 'reaches the tunnel listener' : 'lands on 15006'}`,
          from: 'peer',
          to: (n) => [n.pod, 15008],
          expect: (n) => reply(strict ? 'tunnel15008' : 'proxy15006', at(n.pod, 15008), n.peer),
        },
        INBOUND_8080_CAPTURED,
      ],
    }),
  ),
  ...([false, true] as const).map(
    (strict): Scenario => ({
      name: strict
        ? 'DNS on --strict: TCP from the proxy gid to the pod IP:53 over lo reaches the :53 listener'
        : 'DNS on (upstream output, §15.2): TCP from the proxy gid to the pod IP:53 over lo is captured to 15006',
      modes: ['REDIRECT'],
      families: BOTH_FAMILIES,
      args: () => ['-b', '*', ...DNS_SERVERS, ...(strict ? ['--strict'] : [])],
      checks: [
        {
          what: `uid 1500 gid 1337 → pod IP:53 ${strict ? 'reaches the :53 listener' : 'lands on 15006'}`,
          from: 'pod',
          as: PROXY_GROUP_ONLY,
          to: (n) => [n.pod, 53],
          expect: (n) => reply(strict ? 'app53' : 'proxy15006', at(n.pod, 53), n.pod),
        },
        {
          // The UID rules' "-o lo … ! --uid-owner 1337 -j RETURN" (which spares port 53 when DNS
          // is on) comes before the GID self-redirect, so only port 53 ever reaches that rule.
          what: 'uid 1500 gid 1337 → pod IP:8080 reaches the app',
          from: 'pod',
          as: PROXY_GROUP_ONLY,
          to: (n) => [n.pod, 8080],
          expect: (n) => reply('app', at(n.pod, 8080), n.pod),
        },
        {
          what: 'uid 1337 → pod IP:8080 lands on 15006 (the rules are live)',
          from: 'pod',
          as: PROXY,
          to: (n) => [n.pod, 8080],
          expect: (n) => reply('proxy15006', at(n.pod, 8080), n.pod),
        },
        {
          what: 'uid 1337 → pod IP:53 reaches the :53 listener (the UID rule exempts 53 in both)',
          from: 'pod',
          as: PROXY,
          to: (n) => [n.pod, 53],
          expect: (n) => reply('app53', at(n.pod, 53), n.pod),
        },
      ],
    }),
  ),
];

/** Runs each check and returns what each one saw, keyed by its description. */
async function observe(pair: Pair, checks: readonly Check[], n: Addresses): Promise<Record<string, string>> {
  const seen: Record<string, string> = {};
  for (const check of checks) {
    const [host, port] = check.to(n);
    const who = check.as ?? (check.from === 'pod' ? APP : ROOT);
    seen[check.what] = await pair.connect(check.from, who, check.proto ?? 'tcp', host, port, check.bind?.(n));
  }
  return seen;
}

const wanted = (checks: readonly Check[], n: Addresses) => Object.fromEntries(checks.map((c) => [c.what, c.expect(n)]));

async function applyOk(pair: Pair, args: readonly string[], backend: Backend, family: Family): Promise<void> {
  const result = await pair.applyTool(args, backend, family === 'ipv6');
  expect(result.code, result.stderr).toBe(0);
}

describe.skipIf(kernelSkipReason)('traffic through the applied rules', () => {
  for (const backend of BACKENDS) {
    for (const scenario of SCENARIOS) {
      for (const mode of scenario.modes) {
        for (const family of scenario.families) {
          test(`${backend} · ${mode} · ${family} · ${scenario.name}`, async () => {
            const n = NET[family];
            await withNamespacePair('tr', async (pair) => {
              await Promise.all([
                startStandardServers(pair, mode),
                applyOk(pair, [...common(mode), ...scenario.args(n, pair.links.second.pod)], backend, family),
              ]);
              const checks = scenario.checks.filter((c) => !c.only || c.only === mode);
              expect(await observe(pair, checks, n)).toEqual(wanted(checks, n));
            });
          });
        }
      }
    }
  }

  // The checks must be able to fail: without rules (or after --cleanup-only) the same checks
  // see the connections land on the app, the external server and the resolver instead.
  const OUTBOUND_CAPTURED = outboundCaptured((n) => n.ext, 80, 'app → external:80 lands on 15001');
  const DNS_CAPTURED: Check = {
    what: 'app UDP → resolver:53 is answered by 15053',
    from: 'pod',
    proto: 'udp',
    to: (n) => [n.peer, 53],
    expect: (n) => udpReply('dns15053', at(n.loopback, 15053), n.pod, at(n.peer, 53)),
  };
  const CAPTURE_CHECKS = [INBOUND_8080_CAPTURED, OUTBOUND_CAPTURED, DNS_CAPTURED];
  const CAPTURE_ARGS = [...common('REDIRECT'), '-b', '*', '-i', '*', '--redirect-dns', '--capture-all-dns'];
  const notCaptured = (n: Addresses) => ({
    [INBOUND_8080_CAPTURED.what]: reply('app', at(n.pod, 8080), n.peer),
    [OUTBOUND_CAPTURED.what]: reply('external', at(n.ext, 80), n.pod),
    [DNS_CAPTURED.what]: udpReply('resolver', at(n.peer, 53), n.pod, at(n.peer, 53)),
  });

  for (const family of BOTH_FAMILIES) {
    test(`negative control · ${family}: without rules the capture checks fail: the connections reach the app, the external server, the resolver`, async () => {
      const n = NET[family];
      await withNamespacePair('neg', async (pair) => {
        await startStandardServers(pair, 'REDIRECT');
        const seen = await observe(pair, CAPTURE_CHECKS, n);
        expect(seen).not.toEqual(wanted(CAPTURE_CHECKS, n));
        expect(seen).toEqual(notCaptured(n));
      });
    });
  }

  for (const backend of BACKENDS) {
    test(`negative control · ${backend}: captured after applying, not captured after --cleanup-only`, async () => {
      const n = NET.ipv4;
      await withNamespacePair('clean', async (pair) => {
        await startStandardServers(pair, 'REDIRECT');
        await applyOk(pair, CAPTURE_ARGS, backend, 'ipv4');
        expect(await observe(pair, CAPTURE_CHECKS, n)).toEqual(wanted(CAPTURE_CHECKS, n));
        const cleaned = await pair.applyTool([...CAPTURE_ARGS, '--cleanup-only'], backend, false);
        expect(cleaned.code, cleaned.stderr).toBe(0);
        expect(await observe(pair, CAPTURE_CHECKS, n)).toEqual(notCaptured(n));
      });
    });
  }

  // Upstream's nftables rules without an address match IPv6 too, so a pod whose IPv6 is off has
  // its IPv6 traffic captured anyway (spec §17.4); --strict lets it pass, as the iptables mode does.
  for (const strict of [false, true]) {
    test(`native-nftables · IPv6 off${strict ? ' --strict: IPv6 traffic passes' : ' (upstream output, §17.4): IPv6 traffic is captured anyway'}`, async () => {
      const n = NET.ipv6;
      const check = outboundCaptured((a) => a.ext, 80, 'app → external:80 over IPv6');
      await withNamespacePair('v6off', async (pair) => {
        await startStandardServers(pair, 'REDIRECT');
        const args = [...common('REDIRECT'), '-i', '*', ...(strict ? ['--strict'] : [])];
        await applyOk(pair, args, 'native-nftables', 'ipv4');
        const seen = await observe(pair, [check], n);
        expect(seen[check.what]).toBe(strict ? reply('external', at(n.ext, 80), n.pod) : check.expect(n));
      });
    });
  }

  describe('--run-validation', () => {
    const VALIDATION_ARGS = [...common('REDIRECT'), '-b', '*', '-i', '*', '--enable-inbound-ipv6=false'];
    /**
     * The CLI itself, run inside the pod as the proxy user, as an istio-validation container
     * would: from a copy that user can read (the checkout may not be).
     */
    const validate = (pair: Pair, args: readonly string[]) =>
      sh(
        'ip',
        [
          'netns',
          'exec',
          pair.pod.name,
          'setpriv',
          '--reuid',
          '1337',
          '--regid',
          '1337',
          '--clear-groups',
          readableBin(),
          ...args,
        ],
        { reject: false },
      );

    for (const backend of BACKENDS) {
      const args = [...VALIDATION_ARGS, ...backendArgs(backend)];
      test(`${backend}: passes after the REDIRECT rules are applied`, async () => {
        await withNamespacePair('val', async (pair) => {
          await applyOk(pair, [...common('REDIRECT'), '-b', '*', '-i', '*'], backend, 'ipv4');
          const result = await validate(pair, [
            ...args,
            '--skip-rule-apply',
            '--run-validation',
            '--probe-timeout',
            '3s',
          ]);
          expect(result.code, result.stderr).toBe(0);
          expect(result.stderr).toContain('Validation passed, iptables rules established');
        });
      });

      test(`${backend}: --dry-run --run-validation exits 0 and opens nothing`, async () => {
        await withNamespacePair('dryval', async (pair) => {
          await applyOk(pair, [...common('REDIRECT'), '-b', '*', '-i', '*'], backend, 'ipv4');
          // Where a probe's connection would be redirected to: it records every connection and
          // never echoes the probe's token.
          const watcher = await pair.serve('pod', PROXY, ['watch15006/redirect/127.0.0.1/15006']);
          const dry = await validate(pair, [...args, '--dry-run', '--run-validation', '--probe-timeout', '3s']);
          expect(dry.code, dry.stderr).toBe(0);
          expect(dry.stderr).toContain('dry run: skipping --run-validation');
          // A connection of our own after the dry run: once the watcher has reported it, it has
          // reported everything before it too.
          expect(await pair.connect('pod', PROXY, 'tcp', NET.ipv4.loopback, 15006)).toMatch(/^watch15006 /);
          await watcher.waitForAccepted(1);
          expect(watcher.accepted).toHaveLength(1);
          // Control: without --dry-run the probe does run, and the watcher sees its connection.
          const real = await validate(pair, [
            ...args,
            '--skip-rule-apply',
            '--run-validation',
            '--probe-timeout',
            '3s',
          ]);
          expect(real.code).toBe(126);
          await watcher.waitForAccepted(2);
          expect(watcher.accepted[1]).toMatch(/^watch15006 orig=127\.0\.0\.6:15002 src=127\.0\.0\.1:\d+$/);
        });
      });
    }

    test('fails with exit 126 in a namespace without rules', async () => {
      await withNamespacePair('norules', async (pair) => {
        const result = await validate(pair, [
          ...VALIDATION_ARGS,
          '--force-iptables-binary',
          'nft',
          '--skip-rule-apply',
          '--run-validation',
          '--probe-timeout',
          '3s',
        ]);
        expect(result.code).toBe(126);
        expect(result.stderr).toContain('iptables validation failed');
        expect(result.stderr).toContain('validation timeout');
      });
    });
  });
});
