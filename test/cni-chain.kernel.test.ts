/**
 * The CNI plugin in a real chain (Debian's containernetworking-plugins: loopback, bridge,
 * host-local), run as a runtime runs it, inside a "node" namespace of the test's own: ADD of
 * the primary plugin then ours for an annotated (injected) pod and an unannotated one, the
 * rules in each namespace, real traffic through them (test/support/traffic.ts), CHECK, DEL;
 * bad network configs and bad annotations give the spec's error object, a non-zero exit and
 * change nothing. Both iptables backends. Also `istio-iptables pod` applying for real.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chainSkipReason as skipReason,
  INJECTED,
  PLUGIN,
  podCount,
  podRef,
  UNANNOTATED,
  withChain,
} from './support/cni-chain.js';
import { kernelSkipReason, runTool, sh, withNamespace, type Namespace } from './support/kernel.js';
import { APP, Pair, PROXY, ROOT } from './support/traffic.js';

let rootLinks = '';
const links = async () => (await sh('ip', ['-o', 'link', 'show'])).stdout.replace(/\s+link\/.*$/gm, '');
const routes = async () => (await sh('ip', ['route', 'show', 'table', 'all'])).stdout;
let rootRoutes = '';

beforeAll(async () => {
  if (skipReason) return;
  rootLinks = await links();
  rootRoutes = await routes();
});
afterAll(async () => {
  if (skipReason) return;
  // The chain ran in its node namespace: the root namespace gained no interface or route.
  expect(await links()).toBe(rootLinks);
  expect(await routes()).toBe(rootRoutes);
});

const ours = (ns: Namespace, binary: string) =>
  ns.save(binary).then((s) => s.split('\n').filter((l) => l.includes('ISTIO')));

describe.skipIf(skipReason)('istio-iptables-cni in a real CNI chain', () => {
  for (const backend of ['nft', 'legacy'] as const) {
    it(`${backend}: ADD programs the annotated pod only, traffic is captured, CHECK passes, DEL removes`, async () => {
      await withChain(`cni-${backend}`, async (chain, nsA, nsB) => {
        const a = podRef(nsA, 'web');
        const b = podRef(nsB, 'plain');
        const extra = { force_iptables_binary: backend };
        const primaryA = await chain.addPrimary(a);
        const primaryB = await chain.addPrimary(b);
        const addA = await chain.exec(PLUGIN, 'ADD', a, chain.ourConf(primaryA.result, INJECTED, extra));
        expect(addA.stderr).toContain(`ipv4 (${backend})`);
        expect(addA).toMatchObject({ code: 0, json: primaryA.result });
        const addB = await chain.exec(PLUGIN, 'ADD', b, chain.ourConf(primaryB.result, UNANNOTATED, extra));
        expect(addB).toMatchObject({ code: 0, json: primaryB.result });
        expect(addB.stderr).toContain('passed over: the pod has no istio-proxy container');

        const rules = await ours(nsA, `iptables-${backend}`);
        expect(rules).toEqual(
          expect.arrayContaining([
            '-A ISTIO_INBOUND -p tcp -m tcp --dport 15020 -j RETURN',
            '-A ISTIO_INBOUND -p tcp -m tcp --dport 15021 -j RETURN',
            '-A ISTIO_INBOUND -p tcp -m tcp --dport 15090 -j RETURN',
            // The CNI's own default: outbound port 15020 excluded (§8.5).
            '-A ISTIO_OUTPUT -p tcp -m tcp --dport 15020 -j RETURN',
            '-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN',
          ]),
        );
        expect(await ours(nsB, `iptables-${backend}`)).toEqual([]);
        expect(await ours(nsB, 'iptables-nft')).toEqual([]);

        // Real traffic: a is the sidecar pod, b an ordinary one on the same bridge.
        const pair = new Pair(nsA, nsB, podCount());
        try {
          const any = '0.0.0.0';
          await Promise.all([
            pair.serve('pod', PROXY, [`proxy15001/redirect/${any}/15001`, `proxy15006/redirect/${any}/15006`]),
            pair.serve('pod', APP, [`app/plain/${any}/8080`]),
            pair.serve('peer', ROOT, [
              `external/plain/${any}/80`,
              `external/plain/${any}/15020`,
              `appB/plain/${any}/8080`,
            ]),
          ]);
          const [addrA, addrB] = [primaryA.address, primaryB.address];
          expect(await pair.connect('peer', ROOT, 'tcp', addrA, 8080)).toBe(
            `proxy15006 orig=${addrA}:8080 src=${addrB}`,
          );
          expect(await pair.connect('pod', APP, 'tcp', addrB, 80)).toBe(`proxy15001 orig=${addrB}:80 src=${addrA}`);
          expect(await pair.connect('pod', PROXY, 'tcp', addrB, 80)).toBe(`external orig=${addrB}:80 src=${addrA}`);
          expect(await pair.connect('pod', APP, 'tcp', addrB, 15020)).toBe(`external orig=${addrB}:15020 src=${addrA}`);
          // The unannotated pod captures nothing: its app answers itself.
          expect(await pair.connect('pod', PROXY, 'tcp', addrB, 8080)).toBe(`appB orig=${addrB}:8080 src=${addrA}`);
        } finally {
          await pair.stopServers();
        }

        const checkA = await chain.exec(PLUGIN, 'CHECK', a, chain.ourConf(primaryA.result, INJECTED, extra));
        expect(checkA).toMatchObject({ code: 0, stdout: '' });
        expect((await chain.exec(PLUGIN, 'CHECK', b, chain.ourConf(primaryB.result, UNANNOTATED, extra))).code).toBe(0);

        // Runtimes delete in reverse order: ours first, then the primary plugin.
        const delA = await chain.exec(PLUGIN, 'DEL', a, chain.ourConf(undefined, INJECTED, extra));
        expect(delA).toMatchObject({ code: 0, stdout: '' });
        expect(await ours(nsA, `iptables-${backend}`)).toEqual([]);
        const recheck = await chain.exec(PLUGIN, 'CHECK', a, chain.ourConf(primaryA.result, INJECTED, extra));
        expect(recheck.code).not.toBe(0);
        expect(recheck.json).toMatchObject({ code: 102, msg: 'pod default/web: the capture rules are not in place' });
        await chain.delPrimary(a, primaryA.result);
        await chain.delPrimary(b, primaryB.result);
        // DEL for a namespace that is gone succeeds.
        const gone = await chain.exec(
          PLUGIN,
          'DEL',
          a,
          chain.ourConf(undefined, INJECTED, extra),
          '/var/run/netns/iit-no-such-ns',
        );
        expect(gone).toMatchObject({ code: 0, stdout: '' });
      });
    });
  }

  it('TPROXY: ADD adds the mangle rules and the policy route in the pod namespace only; DEL removes them', async () => {
    await withChain('cni-tproxy', async (chain, nsA) => {
      const a = podRef(nsA, 'tproxy');
      const annotations = { ...INJECTED, 'sidecar.istio.io/interceptionMode': 'TPROXY' };
      const { result } = await chain.addPrimary(a);
      const nodeRules = (await chain.node.exec('ip', ['rule'])).stdout;
      const add = await chain.exec(PLUGIN, 'ADD', a, chain.ourConf(result, annotations));
      expect(add.code, add.stdout).toBe(0);
      expect(await ours(nsA, 'iptables-nft')).toContain(
        '-A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --on-port 15006 --on-ip 0.0.0.0 --tproxy-mark 0x539/0xffffffff',
      );
      expect((await nsA.exec('ip', ['rule'])).stdout).toMatch(/fwmark 0x539 lookup 133/);
      expect((await nsA.exec('ip', ['route', 'show', 'table', '133'])).stdout).toContain('local default dev lo');
      expect((await chain.node.exec('ip', ['rule'])).stdout).toBe(nodeRules);
      expect((await chain.exec(PLUGIN, 'CHECK', a, chain.ourConf(result, annotations))).code).toBe(0);
      const del = await chain.exec(PLUGIN, 'DEL', a, chain.ourConf(undefined, annotations));
      expect(del.code, del.stdout).toBe(0);
      expect(await ours(nsA, 'iptables-nft')).toEqual([]);
      expect((await nsA.exec('ip', ['rule'])).stdout).not.toMatch(/lookup 133/);
      await chain.delPrimary(a, result);
    });
  });

  it('four ADDs for one pod at once (a retried ADD) take turns on its lock: all succeed, the rules are there once', async () => {
    await withChain('cni-race', async (chain, nsA) => {
      const a = podRef(nsA, 'race');
      const { result } = await chain.addPrimary(a);
      const adds = await Promise.all(
        [1, 2, 3, 4].map(() => chain.exec(PLUGIN, 'ADD', a, chain.ourConf(result, INJECTED))),
      );
      expect(
        adds.map((add) => add.code),
        adds.map((add) => add.stderr).join('\n---\n'),
      ).toEqual([0, 0, 0, 0]);
      const rules = await ours(nsA, 'iptables-nft');
      expect(rules.filter((rule) => rule === '-A OUTPUT -j ISTIO_OUTPUT')).toHaveLength(1);
      expect(rules.filter((rule) => rule === '-A PREROUTING -p tcp -j ISTIO_INBOUND')).toHaveLength(1);
      expect((await chain.exec(PLUGIN, 'CHECK', a, chain.ourConf(result, INJECTED))).code).toBe(0);
      expect((await chain.exec(PLUGIN, 'DEL', a, chain.ourConf(undefined, INJECTED))).code).toBe(0);
      await chain.delPrimary(a, result);
    });
  });

  it('bad network configs and bad annotations: the error object, exit non-zero, nothing changed', async () => {
    await withChain('cni-bad', async (chain, nsA) => {
      const a = podRef(nsA, 'bad');
      const { result } = await chain.addPrimary(a);
      const before = { nft: await nsA.save('iptables-nft'), legacy: await nsA.save('iptables-legacy') };
      const cases: [object | string, number][] = [
        ['{"cniVersion": "1.0.0", "name": ', 6],
        [{ cniVersion: '1.0.0', name: chain.network }, 7],
        [chain.ourConf(result, INJECTED, { exclude_namespaces: 'default' }), 7],
        [chain.ourConf(result, INJECTED, { cniVersion: '0.2.0' }), 1],
        [chain.ourConf(result, INJECTED, { native_nftables: 'true' }), 7],
        [chain.ourConf(result, INJECTED, { lock_timeout: 'soon' }), 7],
        [chain.ourConf(undefined, INJECTED), 7],
        [chain.ourConf(result, { ...INJECTED, 'traffic.sidecar.istio.io/includeInboundPorts': '80,http' }), 100],
        [chain.ourConf(result, { ...INJECTED, 'sidecar.istio.io/interceptionMode': 'NONE' }), 100],
        [chain.ourConf(result, { ...INJECTED, 'traffic.sidecar.istio.io/excludeOutboundPorts': '*' }), 100],
      ];
      for (const [conf, code] of cases) {
        const stdin = typeof conf === 'string' ? conf : conf;
        const run =
          typeof stdin === 'string'
            ? await sh('ip', ['netns', 'exec', chain.node.name, PLUGIN], {
                input: stdin,
                env: {
                  PATH: process.env.PATH ?? '',
                  CNI_COMMAND: 'ADD',
                  CNI_CONTAINERID: a.containerId,
                  CNI_IFNAME: 'eth0',
                  CNI_NETNS: a.ns.path,
                },
                reject: false,
              })
            : await chain.exec(PLUGIN, 'ADD', a, stdin);
        expect(run.code, run.stdout).not.toBe(0);
        const error = JSON.parse(run.stdout) as { cniVersion: string; code: number; msg: string };
        expect(error.code, run.stdout).toBe(code);
        expect(typeof error.msg).toBe('string');
        expect(typeof error.cniVersion).toBe('string');
      }
      expect(await nsA.save('iptables-nft')).toBe(before.nft);
      expect(await nsA.save('iptables-legacy')).toBe(before.legacy);
      await chain.delPrimary(a, result);
    });
  });
});

describe.skipIf(kernelSkipReason)('istio-iptables pod, applying for real', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iit-pod-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, pod: object) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(pod));
    return path;
  };

  it('applies the path configuration into --network-namespace; a pod it would not program changes nothing', async () => {
    await withNamespace('pod-apply', async (ns) => {
      await ns.exec('ip', ['link', 'add', 'pa0', 'type', 'veth', 'peer', 'name', 'pa1']);
      await ns.exec('ip', ['addr', 'add', '192.0.2.2/24', 'dev', 'pa0']);
      const skipped = file('skip.json', {
        kind: 'Pod',
        metadata: { annotations: { 'sidecar.istio.io/inject': 'false' } },
        spec: {},
      });
      const before = await ns.save('iptables-nft');
      const skip = await runTool(['pod', skipped, '--network-namespace', ns.path]);
      expect(skip).toMatchObject({ code: 0, stdout: '' });
      expect(skip.stderr).toContain('nothing to program');
      expect(await ns.save('iptables-nft')).toBe(before);

      const pod = file('pod.json', { kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'app' }] } });
      const cni = await runTool(['pod', pod, '--path', 'cni', '--network-namespace', ns.path]);
      expect(cni.code, cni.stderr).toBe(0);
      expect(await ours(ns, 'iptables-nft')).toContain('-A ISTIO_OUTPUT -p tcp -m tcp --dport 15020 -j RETURN');
      // The injector's configuration replaces it (drift is reconciled): no -o 15020 on path A.
      const injector = await runTool(['pod', pod, '--network-namespace', ns.path]);
      expect(injector.code, injector.stderr).toBe(0);
      const rules = await ours(ns, 'iptables-nft');
      expect(rules).not.toContain('-A ISTIO_OUTPUT -p tcp -m tcp --dport 15020 -j RETURN');
      expect(rules).toContain('-A ISTIO_INBOUND -p tcp -m tcp --dport 15090 -j RETURN');
    });
  });
});
