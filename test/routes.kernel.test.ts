/**
 * Failure mode 16 (numbered as in the failure-mode corpus, FAILURE_MODES.md, of the reference material): the TPROXY route table and fwmark
 * rule are ours only when they hold exactly what the plan puts there; anything else stops
 * the run before its first write.
 */
import { describe, expect, test } from 'vitest';
import { addForeignRules, netfilterSnapshot } from './support/hostile.js';
import { kernelSkipReason, runTool, withNamespace } from './support/kernel.js';

const TPROXY = ['-m', 'TPROXY', '-b', '*', '-u', '1337', '-i', '*', '--enable-inbound-ipv6=false'];

describe.skipIf(kernelSkipReason)('TPROXY routes that are not ours', () => {
  for (const backend of ['nft', 'legacy'] as const) {
    for (const [what, setup, found] of [
      [
        'an unreachable default in table 133',
        ['route', 'add', 'unreachable', 'default', 'table', '133'],
        'unreachable default',
      ],
      [
        'a gateway default in table 133',
        ['route', 'add', 'default', 'via', '192.0.2.1', 'dev', 'eth0', 'table', '133'],
        'default via 192.0.2.1',
      ],
      ['the mark sent to another table', ['rule', 'add', 'fwmark', '1337', 'lookup', '200'], 'fwmark 0x539 lookup 200'],
    ] as const) {
      test(`${backend}: ${what} stops the run, naming it and -r; nothing changes`, async () => {
        await withNamespace('route16', async (ns) => {
          await ns.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
          await ns.exec('ip', ['addr', 'add', '192.0.2.10/24', 'dev', 'eth0']);
          await ns.exec('ip', ['link', 'set', 'eth0', 'up']);
          await addForeignRules(ns, backend);
          await ns.exec('ip', setup);
          const routes = async () =>
            `${(await ns.exec('ip', ['rule'])).stdout}${(await ns.exec('ip', ['route', 'show', 'table', 'all'])).stdout}`;
          const before = [await netfilterSnapshot(ns), await routes()];
          const result = await runTool([...TPROXY, '--force-iptables-binary', backend, '--network-namespace', ns.path]);
          expect(result.code, result.stderr).toBe(1);
          expect(result.stderr).toContain(found);
          expect(result.stderr).toContain('Nothing was changed');
          expect(result.stderr).toContain('-r/--istio-inbound-tproxy-route-table');
          expect([await netfilterSnapshot(ns), await routes()]).toEqual(before);
        });
      });
    }
  }
});
