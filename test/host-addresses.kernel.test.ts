/**
 * IPv6 is decided from every address the kernel lists, as upstream decides it, including
 * addresses on interfaces that are down or have no carrier yet (which node's
 * os.networkInterfaces() skips). The tool runs inside the namespace, as an init container does.
 */
import { describe, expect, test } from 'vitest';
import { BIN, kernelSkipReason, type Namespace, withNamespace } from './support/kernel.js';

const ARGS = [
  '-p',
  '15001',
  '-z',
  '15006',
  '-u',
  '1337',
  '-m',
  'REDIRECT',
  '-i',
  '*',
  '-x',
  '',
  '-b',
  '*',
  '--dry-run',
];
let links = 0;

/** A veth pair inside the namespace; the peer is left down, so `name` has no carrier. */
async function vethWithoutCarrier(ns: Namespace): Promise<string> {
  const name = `hd${process.pid % 10000}${++links}`;
  await ns.exec('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
  await ns.exec('ip', ['link', 'set', name, 'up']);
  return name;
}

async function families(ns: Namespace, extra: readonly string[] = []) {
  const result = await ns.exec(BIN, [...ARGS, ...extra], { reject: false });
  expect(result.code, result.stderr).toBe(0);
  return {
    ipv4: result.stdout.includes('# ipv4: iptables-restore --noflush'),
    ipv6: result.stdout.includes('# ipv6: ip6tables-restore --noflush'),
  };
}

describe.skipIf(kernelSkipReason)('pod addresses on interfaces that are down', () => {
  test('eth0 with an IPv4 address but no carrier yet: a working IPv4 run, as upstream', async () => {
    await withNamespace('nocarrier4', async (ns) => {
      const nic = await vethWithoutCarrier(ns);
      await ns.exec('ip', ['addr', 'add', '192.0.2.10/24', 'dev', nic]);
      expect((await ns.exec('ip', ['-o', 'link', 'show', nic])).stdout).toContain('NO-CARRIER');
      expect(await families(ns)).toEqual({ ipv4: true, ipv6: false });
    });
  });

  test('an IPv6 address without carrier, IPv4 nowhere: IPv6 on', async () => {
    await withNamespace('nocarrier6', async (ns) => {
      const nic = await vethWithoutCarrier(ns);
      await ns.exec('ip', ['addr', 'add', '2001:db8::10/64', 'dev', nic, 'nodad']);
      expect(await families(ns)).toEqual({ ipv4: true, ipv6: true });
    });
  });

  test('IPv4 on a down interface comes before IPv6 on an up one: IPv6 off, unless --dual-stack', async () => {
    await withNamespace('down4up6', async (ns) => {
      const down = await vethWithoutCarrier(ns);
      await ns.exec('ip', ['link', 'set', down, 'down']);
      await ns.exec('ip', ['addr', 'add', '192.0.2.20/24', 'dev', down]);
      const up = await vethWithoutCarrier(ns);
      await ns.exec('ip', ['link', 'set', `${up}p`, 'up']);
      await ns.exec('ip', ['addr', 'add', '2001:db8::20/64', 'dev', up, 'nodad']);
      expect(await families(ns)).toEqual({ ipv4: true, ipv6: false });
      expect(await families(ns, ['--dual-stack'])).toEqual({ ipv4: true, ipv6: true });
    });
  });

  test('an IPv6 address on a down interface counts for --dual-stack', async () => {
    await withNamespace('down6dual', async (ns) => {
      const up = await vethWithoutCarrier(ns);
      await ns.exec('ip', ['link', 'set', `${up}p`, 'up']);
      await ns.exec('ip', ['addr', 'add', '192.0.2.30/24', 'dev', up]);
      const quiet = await vethWithoutCarrier(ns);
      await ns.exec('ip', ['addr', 'add', '2001:db8::30/64', 'dev', quiet, 'nodad']);
      expect(await families(ns)).toEqual({ ipv4: true, ipv6: false });
      expect(await families(ns, ['--dual-stack'])).toEqual({ ipv4: true, ipv6: true });
    });
  });
});
