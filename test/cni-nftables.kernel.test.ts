/**
 * The CNI plugin with `native_nftables: true` in a real chain (Debian's containernetworking-
 * plugins, as test/cni-chain.kernel.test.ts runs them): ADD writes Istio's `inet istio-proxy-*`
 * tables for the annotated pod only — exactly what `istio-iptables --native-nftables` plans for
 * the CNI's configuration, loaded by nft into a control namespace as the oracle — real traffic
 * goes through them, CHECK passes and then fails on drift, DEL removes them (and succeeds again,
 * and for a namespace that is gone). Bad values of the plugin's keys, and a namespace whose lock
 * another process holds (`lock_timeout`), give the spec's error object, a non-zero exit and
 * change nothing, on both rule managers. Also `pod --path cni` with the values' global.nativeNftables.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  chainSkipReason,
  INJECTED,
  PLUGIN,
  type PluginRun,
  podCount,
  podRef,
  UNANNOTATED,
  withChain,
} from './support/cni-chain.js';
import { kernelSkipReason, runTool, withNamespace, type Namespace } from './support/kernel.js';
import { APP, Pair, PROXY, ROOT } from './support/traffic.js';

const NFT = { native_nftables: true };

/** The namespace's whole nft ruleset, without counter values (they differ between loads). */
async function ruleset(ns: Namespace): Promise<string> {
  return (await ns.exec('nft', ['list', 'ruleset'])).stdout.replace(/ packets \d+ bytes \d+/g, '');
}

async function tables(ns: Namespace): Promise<string[]> {
  return (await ns.exec('nft', ['list', 'tables'])).stdout.split('\n').filter((line) => line !== '');
}

/** Everything the plugin could have changed in a pod namespace: nft (iptables-nft included), legacy, policy routes. */
async function snapshot(ns: Namespace): Promise<string> {
  const legacy = await ns.save('iptables-legacy');
  const rules = (await ns.exec('ip', ['rule'])).stdout;
  return [await ruleset(ns), legacy, rules].join('\n## \n');
}

/** The command line the plugin logged (plugin_log_level debug), without its namespace. */
function loggedArgs(run: PluginRun): string[] {
  const json = /istio-iptables (\[.*\])$/m.exec(run.stderr)?.[1];
  if (!json) throw new Error(`no command line in the log:\n${run.stderr}`);
  const args = JSON.parse(json) as string[];
  const at = args.indexOf('--network-namespace');
  return [...args.slice(0, at), ...args.slice(at + 2)];
}

/** What nft lists after loading the CLI's dry-run transaction for `args` into a fresh namespace. */
async function oracle(args: readonly string[], facts: Namespace): Promise<string> {
  const dry = await runTool([...args, '--dry-run', '--network-namespace', facts.path]);
  expect(dry.code, dry.stderr).toBe(0);
  const transaction = dry.stdout
    .split(/(?<=\n)/)
    .filter((line) => !line.startsWith('#'))
    .join('');
  return withNamespace('cni-nft-oracle', async (control) => {
    await control.exec('nft', ['-f', '-'], { input: transaction });
    return ruleset(control);
  });
}

/** The pod's traffic: a is the sidecar pod, b an ordinary one on the same bridge. */
async function expectCaptured(nsA: Namespace, nsB: Namespace, addrA: string, addrB: string): Promise<void> {
  const pair = new Pair(nsA, nsB, podCount());
  try {
    const any = '0.0.0.0';
    await Promise.all([
      pair.serve('pod', PROXY, [`proxy15001/redirect/${any}/15001`, `proxy15006/redirect/${any}/15006`]),
      pair.serve('pod', APP, [`app/plain/${any}/8080`]),
      pair.serve('peer', ROOT, [`external/plain/${any}/80`, `external/plain/${any}/15020`, `appB/plain/${any}/8080`]),
    ]);
    expect(await pair.connect('peer', ROOT, 'tcp', addrA, 8080)).toBe(`proxy15006 orig=${addrA}:8080 src=${addrB}`);
    expect(await pair.connect('pod', APP, 'tcp', addrB, 80)).toBe(`proxy15001 orig=${addrB}:80 src=${addrA}`);
    expect(await pair.connect('pod', PROXY, 'tcp', addrB, 80)).toBe(`external orig=${addrB}:80 src=${addrA}`);
    // The CNI's own default: outbound port 15020 is not captured (§8.5).
    expect(await pair.connect('pod', APP, 'tcp', addrB, 15020)).toBe(`external orig=${addrB}:15020 src=${addrA}`);
    // The unannotated pod captures nothing: its app answers itself.
    expect(await pair.connect('pod', PROXY, 'tcp', addrB, 8080)).toBe(`appB orig=${addrB}:8080 src=${addrA}`);
  } finally {
    await pair.stopServers();
  }
}

const ADD_CHECK_DEL = ['ADD', 'CHECK', 'DEL'] as const;

describe.skipIf(chainSkipReason)('istio-iptables-cni with native_nftables: true, in a real CNI chain', () => {
  it('ADD writes the inet tables of the CNI configuration for the annotated pod only; traffic; CHECK; drift; DEL', async () => {
    await withChain('cni-nft', async (chain, nsA, nsB) => {
      const a = podRef(nsA, 'web');
      const b = podRef(nsB, 'plain');
      const primaryA = await chain.addPrimary(a);
      const primaryB = await chain.addPrimary(b);
      const confA = (prev: object | undefined) => chain.ourConf(prev, INJECTED, NFT);
      const addA = await chain.exec(PLUGIN, 'ADD', a, confA(primaryA.result));
      expect(addA, addA.stderr).toMatchObject({ code: 0, json: primaryA.result });
      expect(addA.stderr).toContain('nftables: no tables of ours yet; applying');
      const addB = await chain.exec(PLUGIN, 'ADD', b, chain.ourConf(primaryB.result, UNANNOTATED, NFT));
      expect(addB).toMatchObject({ code: 0, json: primaryB.result });
      expect(addB.stderr).toContain('passed over: the pod has no istio-proxy container');

      // Exactly the CLI's --native-nftables plan for the CNI's command line; no iptables rules.
      const args = loggedArgs(addA);
      expect(args).toEqual(expect.arrayContaining(['--cni-mode', '--native-nftables', '-o', '15020']));
      expect(await tables(nsA)).toEqual(['table inet istio-proxy-nat']);
      expect(await ruleset(nsA)).toBe(await oracle(args, nsA));
      expect(await ruleset(nsA)).toMatch(/chain istio-output \{[^}]*tcp dport 15020 counter return/);
      expect(await tables(nsB)).toEqual([]);
      expect(await nsA.save('iptables-legacy')).not.toContain('ISTIO');

      await expectCaptured(nsA, nsB, primaryA.address, primaryB.address);

      const check = await chain.exec(PLUGIN, 'CHECK', a, confA(primaryA.result));
      expect(check, check.stdout).toMatchObject({ code: 0, stdout: '' });
      expect((await chain.exec(PLUGIN, 'CHECK', b, chain.ourConf(primaryB.result, UNANNOTATED, NFT))).code).toBe(0);
      // Drift: a rule someone else added. CHECK names it; a repeated ADD puts the plan back.
      await nsA.exec('nft', ['add', 'rule', 'inet', 'istio-proxy-nat', 'istio-output', 'counter', 'accept']);
      const drifted = await chain.exec(PLUGIN, 'CHECK', a, confA(primaryA.result));
      expect(drifted.code).not.toBe(0);
      expect(drifted.json).toMatchObject({
        code: 102,
        msg: 'pod default/web: the capture rules are not in place',
        details: expect.stringMatching(/^nftables: istio-proxy-nat istio-output rule \d+: expected \(none\), found/),
      });
      expect((await chain.exec(PLUGIN, 'ADD', a, confA(primaryA.result))).code).toBe(0);
      expect(await ruleset(nsA)).toBe(await oracle(args, nsA));
      expect((await chain.exec(PLUGIN, 'CHECK', a, confA(primaryA.result))).code).toBe(0);

      const del = await chain.exec(PLUGIN, 'DEL', a, confA(undefined));
      expect(del, del.stderr).toMatchObject({ code: 0, stdout: '' });
      expect(del.stderr).toContain('nftables: removed our tables (istio-proxy-nat)');
      expect(await tables(nsA)).toEqual([]);
      const again = await chain.exec(PLUGIN, 'DEL', a, confA(undefined));
      expect(again, again.stderr).toMatchObject({ code: 0, stdout: '' });
      expect(again.stderr).toContain('nftables: nothing of ours was live');
      const recheck = await chain.exec(PLUGIN, 'CHECK', a, confA(primaryA.result));
      expect(recheck.json).toMatchObject({ code: 102, details: 'nftables: none of the planned tables is live' });
      await chain.delPrimary(a, primaryA.result);
      await chain.delPrimary(b, primaryB.result);
      const gone = await chain.exec(PLUGIN, 'DEL', a, confA(undefined), '/var/run/netns/iit-no-such-ns');
      expect(gone).toMatchObject({ code: 0, stdout: '' });
    });
  });

  it('TPROXY with DNS capture: the mangle and raw tables and the policy route; DEL removes them all', async () => {
    await withChain('cni-nft-tproxy', async (chain, nsA) => {
      const a = podRef(nsA, 'tproxy');
      const annotations = { ...INJECTED, 'sidecar.istio.io/interceptionMode': 'TPROXY' };
      const extra = { ...NFT, proxy_env: { ISTIO_META_DNS_CAPTURE: 'true' } };
      const { result } = await chain.addPrimary(a);
      const add = await chain.exec(PLUGIN, 'ADD', a, chain.ourConf(result, annotations, extra));
      expect(add.code, add.stdout).toBe(0);
      expect(loggedArgs(add)).toEqual(expect.arrayContaining(['--redirect-dns', '--capture-all-dns']));
      expect(await tables(nsA)).toEqual([
        'table inet istio-proxy-nat',
        'table inet istio-proxy-mangle',
        'table inet istio-proxy-raw',
      ]);
      expect(await ruleset(nsA)).toBe(await oracle(loggedArgs(add), nsA));
      expect((await nsA.exec('ip', ['rule'])).stdout).toMatch(/fwmark 0x539 lookup 133/);
      expect((await chain.exec(PLUGIN, 'CHECK', a, chain.ourConf(result, annotations, extra))).code).toBe(0);
      const del = await chain.exec(PLUGIN, 'DEL', a, chain.ourConf(undefined, annotations, extra));
      expect(del.code, del.stdout).toBe(0);
      expect(await tables(nsA)).toEqual([]);
      expect((await nsA.exec('ip', ['rule'])).stdout).not.toMatch(/lookup 133/);
      await chain.delPrimary(a, result);
    });
  });

  it("bad values of the plugin's keys: the error object naming key and value, non-zero, nothing changed", async () => {
    await withChain('cni-nft-bad', async (chain, nsA) => {
      const a = podRef(nsA, 'bad');
      const { result } = await chain.addPrimary(a);
      const before = await snapshot(nsA);
      const cases: [object, string][] = [
        [{ native_nftables: 'true' }, 'native_nftables: must be boolean, not "true"'],
        [{ native_nftables: 1 }, 'native_nftables: must be boolean, not 1'],
        [
          { ...NFT, lock_timeout: '30 seconds' },
          'lock_timeout: expected a duration such as 30s, 1500ms or 1m (0: do not wait), not "30 seconds"',
        ],
        [{ ...NFT, lock_timeout: '-1s' }, expect.stringContaining('lock_timeout: expected a duration') as never],
        [{ lock_timeout: 30 }, 'lock_timeout: must be string, not 30'],
      ];
      for (const [extra, details] of cases)
        for (const command of ADD_CHECK_DEL) {
          const run = await chain.exec(PLUGIN, command, a, chain.ourConf(result, INJECTED, extra));
          expect(run.code, `${command} ${JSON.stringify(extra)}`).not.toBe(0);
          expect(run.json).toMatchObject({
            cniVersion: '1.0.0',
            code: 7,
            msg: 'invalid network configuration',
            details,
          });
        }
      expect(await snapshot(nsA)).toBe(before);
      await chain.delPrimary(a, result);
    });
  });

  it('lock_timeout: a held lock gives code 11 naming the holder, for ADD, CHECK and DEL on both managers; nothing changed; then a switch of manager is refused', async () => {
    await withChain('cni-nft-lock', async (chain, nsA) => {
      const a = podRef(nsA, 'locked');
      const { result } = await chain.addPrimary(a);
      // Programmed first (iptables manager), so that DEL and CHECK would have work to do.
      expect((await chain.exec(PLUGIN, 'ADD', a, chain.ourConf(result, INJECTED))).code).toBe(0);
      const holder = execa('nsenter', [
        `--net=${nsA.path}`,
        'sh',
        '-c',
        'exec 9</proc/self/ns/net; flock 9; echo held; exec sleep 60',
      ]);
      try {
        await new Promise((resolve) => holder.stdout?.once('data', resolve));
        const before = await snapshot(nsA);
        for (const [manager, timeout, waited] of [
          [{}, '500ms', '0.5s'],
          [NFT, '0', '0s'],
        ] as const)
          for (const command of ADD_CHECK_DEL) {
            const conf = chain.ourConf(command === 'DEL' ? undefined : result, INJECTED, {
              ...manager,
              lock_timeout: timeout,
            });
            const run = await chain.exec(PLUGIN, command, a, conf);
            expect(run.code, `${command} ${JSON.stringify(manager)}: ${run.stdout}`).not.toBe(0);
            expect(run.json).toEqual({
              cniVersion: '1.0.0',
              code: 11,
              msg:
                `another run is working on network namespace ${nsA.path}: gave up waiting for its lock after ` +
                `${waited} (held by pid ${holder.pid} (sleep)). Nothing was changed; retry later, or raise lock_timeout.`,
            });
          }
        expect(await snapshot(nsA)).toBe(before);
      } finally {
        holder.kill('SIGKILL');
        await holder.catch(() => undefined);
      }
      // The node switched managers while the pod runs: the ADD stops rather than capture twice.
      const before = await snapshot(nsA);
      const switched = await chain.exec(PLUGIN, 'ADD', a, chain.ourConf(result, INJECTED, NFT));
      expect(switched.code).not.toBe(0);
      expect(switched.json).toMatchObject({
        code: 101,
        msg: 'rules of the iptables mode are live in this namespace; adding nftables rules would capture traffic twice. Nothing was changed. Found:',
      });
      expect(await snapshot(nsA)).toBe(before);
      // Released, the same calls go through.
      expect((await chain.exec(PLUGIN, 'CHECK', a, chain.ourConf(result, INJECTED, { lock_timeout: '0' }))).code).toBe(
        0,
      );
      expect(
        (await chain.exec(PLUGIN, 'DEL', a, chain.ourConf(undefined, INJECTED, { lock_timeout: '1s' }))).code,
      ).toBe(0);
      await chain.delPrimary(a, result);
    });
  });
});

describe.skipIf(kernelSkipReason)('istio-iptables pod --path cni with global.nativeNftables, applying for real', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iit-pod-nft-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the native tables of the CNI configuration into --network-namespace, and no iptables rules', async () => {
    await withNamespace('pod-nft', async (ns) => {
      await ns.exec('ip', ['link', 'add', 'pn0', 'type', 'veth', 'peer', 'name', 'pn1']);
      await ns.exec('ip', ['addr', 'add', '192.0.2.2/24', 'dev', 'pn0']);
      const pod = join(dir, 'pod.json');
      writeFileSync(
        pod,
        JSON.stringify({ kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'app' }] } }),
      );
      const values = join(dir, 'values.yaml');
      writeFileSync(values, 'global:\n  nativeNftables: true\n');
      const run = await runTool(['pod', pod, '--path', 'cni', '--values', values, '--network-namespace', ns.path]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain('"--cni-mode","--native-nftables"]');
      expect(await tables(ns)).toEqual(['table inet istio-proxy-nat']);
      expect(await ruleset(ns)).toMatch(/chain istio-output \{[^}]*tcp dport 15020 counter return/);
      expect(await ns.save('iptables-nft')).not.toContain('ISTIO');
    });
  });
});
