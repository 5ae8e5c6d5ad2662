/**
 * `explain --native-nftables` against the kernel. For the matrix explain's iptables kernel test
 * uses (test/support/explain-matrix.ts: REDIRECT and TPROXY, compact sets on and off, DNS
 * capture on and off, -x, -i, -b, -d, -o, -q, -c, -k, owner groups, strict), the native
 * nftables rules are applied into a pod namespace, real connections are opened over IPv4 and
 * IPv6, and where each lands must be exactly what `explain --native-nftables --json` of the plan
 * predicted. The namespace's live ruleset and a saved `nft list ruleset` of it must decide
 * every `--report` flow as the plan does; and for a sample of flows the rules the kernel's
 * `nft monitor trace` reports are the rules the simulation matched, in order.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { runCli } from './support/cli.js';
import { common, type Doc, flows, landed, SETTINGS, traced, verdicts } from './support/explain-matrix.js';
import { BIN, kernelSkipReason, runTool } from './support/kernel.js';
import { APP, at, type Family, NET, PROXY, ROOT, startStandardServers, withNamespacePair } from './support/traffic.js';

describe.skipIf(kernelSkipReason)('explain --native-nftables predicts where real connections land', () => {
  for (const setting of SETTINGS)
    test(`native nftables · ${setting.name}`, async () => {
      await withNamespacePair('en', async (pair) => {
        const args = [...common(setting.mode), ...setting.args(pair.links.second.pod), '--host-ip', NET.ipv4.pod];
        const [, applied] = await Promise.all([
          startStandardServers(pair, setting.mode),
          pair.applyTool(args, 'native-nftables', true),
        ]);
        expect(applied.code, applied.stderr).toBe(0);
        const capture = [...args, '--native-nftables', '--enable-inbound-ipv6=true'];
        const predicted: Record<string, unknown> = {};
        const observed: Record<string, unknown> = {};
        for (const family of ['ipv4', 'ipv6'] as const satisfies readonly Family[]) {
          for (const flow of flows(NET[family], pair.links.main.pod, pair.links.second.pod, setting.vm === true)) {
            const key = `${family} ${flow.what}`;
            const explained = await runCli(['explain', ...capture, ...flow.explain, '--json']);
            expect(explained.code, explained.stderr).toBe(0);
            const doc = JSON.parse(explained.stdout) as Doc;
            expect(doc.decidedBy.table, key).toMatch(/^inet istio-proxy-(nat|mangle|raw)$/);
            predicted[key] = { outcome: doc.outcome, ...(doc.toPort ? { toPort: doc.toPort } : {}) };
            observed[key] = landed(await pair.connect(flow.from, flow.who, flow.proto, ...flow.to), setting.mode);
          }
        }
        expect(observed).toEqual(predicted);
        const outcomes = new Set(Object.values(predicted).map((p) => (p as { outcome: string }).outcome));
        expect([...outcomes].sort()).toEqual(
          setting.mode === 'TPROXY' ? ['accept', 'redirect', 'tproxy'] : ['accept', 'redirect'],
        );

        // The live ruleset and a saved listing of it decide every --report flow as the plan does.
        const plan = await runCli(['explain', ...capture, '--report', '--json']);
        expect(plan.code, plan.stderr).toBe(0);
        const live = await runTool(['explain', ...capture, '--network-namespace', pair.pod.path, '--report', '--json']);
        expect(live.code, live.stderr).toBe(0);
        expect(verdicts(JSON.parse(live.stdout))).toEqual(verdicts(JSON.parse(plan.stdout)));
        const dir = mkdtempSync(join(tmpdir(), 'iit-explain-nft-'));
        try {
          const file = join(dir, 'ruleset.nft');
          writeFileSync(file, (await pair.pod.exec('nft', ['list', 'ruleset'])).stdout);
          const saved = await runCli(['explain', ...capture, '--from-save', file, '--report', '--json']);
          expect(saved.code, saved.stderr).toBe(0);
          expect(verdicts(JSON.parse(saved.stdout))).toEqual(verdicts(JSON.parse(plan.stdout)));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });
});

describe.skipIf(kernelSkipReason)(
  'explain --live --native-nftables: nft monitor trace beside the simulated path',
  () => {
    for (const mode of ['REDIRECT', 'TPROXY'] as const)
      test(`${mode}: the rules the kernel matched are the rules the simulation matched, in order, v4 and v6; the trace table is gone after`, async () => {
        await withNamespacePair('ln', async (pair) => {
          const args = [...common(mode), '-b', '*', '-d', '9090', '-i', '*', '--redirect-dns', '--capture-all-dns'];
          const [, applied] = await Promise.all([
            startStandardServers(pair, mode),
            pair.applyTool([...args, '--host-ip', NET.ipv4.pod], 'native-nftables', true),
          ]);
          expect(applied.code, applied.stderr).toBe(0);
          const live = [
            ...args,
            '--native-nftables',
            '--enable-inbound-ipv6=true',
            '--network-namespace',
            pair.pod.path,
          ];
          const main = pair.links.main.pod;
          const leftovers = async () => (await pair.pod.exec('nft', ['list', 'ruleset'])).stdout;
          for (const n of [NET.ipv4, NET.ipv6]) {
            const app = ['--uid', '1000', '--gid', '1000'];
            const samples: [string, string[], () => Promise<string>][] = [
              [
                'app → ext:80',
                ['--dst', at(n.ext, 80), ...app, '--out-interface', main],
                () => pair.connect('pod', APP, 'tcp', n.ext, 80),
              ],
              [
                'app → resolver:53 udp',
                ['--protocol', 'udp', '--dst', at(n.peer, 53), ...app, '--out-interface', main],
                () => pair.connect('pod', APP, 'udp', n.peer, 53),
              ],
              [
                'app → localhost:8080',
                ['--dst', at(n.loopback, 8080), ...app, '--out-interface', 'lo'],
                () => pair.connect('pod', APP, 'tcp', n.loopback, 8080),
              ],
              [
                'proxy → ext:80',
                ['--dst', at(n.ext, 80), '--uid', '1337', '--gid', '1337', '--out-interface', main],
                () => pair.connect('pod', PROXY, 'tcp', n.ext, 80),
              ],
              [
                'peer → pod:8080',
                ['--direction', 'inbound', '--src', n.peer, '--dst', at(n.pod, 8080), '--in-interface', main],
                () => pair.connect('peer', ROOT, 'tcp', n.pod, 8080),
              ],
              [
                'peer → pod:9090 (excluded)',
                ['--direction', 'inbound', '--src', n.peer, '--dst', at(n.pod, 9090), '--in-interface', main],
                () => pair.connect('peer', ROOT, 'tcp', n.pod, 9090),
              ],
            ];
            for (const [flow, explainArgs, open] of samples) {
              const what = `${n.family} ${flow}`;
              const { landedOn, doc } = await traced([...live, ...explainArgs], open, leftovers);
              expect(landed(landedOn, mode).outcome, what).toBe(doc.outcome);
              expect(doc.tracer, what).toBe('nft monitor trace');
              expect(Array.isArray(doc.trace), `${what}: ${JSON.stringify(doc.trace)}`).toBe(true);
              const trace = doc.trace as { table: string; chain: string; kind: string; rule?: string }[];
              expect(trace[0]?.table, what).toMatch(/^inet istio-explain-trace-\d+$/);
              const kernel = trace
                .filter((s) => s.kind === 'rule' && !s.table.includes('istio-explain-trace'))
                .map((s) => `${s.table} ${s.chain}: ${s.rule}`);
              const simulated = doc.path
                .filter((s) => s.matched && !s.rule.startsWith('policy '))
                .map((s) => `${s.table} ${s.chain}: ${s.rule}`);
              expect(kernel.length, what).toBeGreaterThan(0);
              expect(kernel, what).toEqual(simulated);
            }
          }
        });
      });
  },
);

describe.skipIf(kernelSkipReason)('explain --live --native-nftables, interrupted', () => {
  test('Ctrl-C while tracing: explain still answers, and the trace table is removed', async () => {
    await withNamespacePair('lc', async (pair) => {
      const args = [...common('REDIRECT'), '-b', '*', '-i', '*', '--host-ip', NET.ipv4.pod];
      const applied = await pair.applyTool(args, 'native-nftables', true);
      expect(applied.code, applied.stderr).toBe(0);
      const child = execa(
        BIN,
        [
          'explain',
          ...args,
          '--native-nftables',
          '--enable-inbound-ipv6=true',
          '--network-namespace',
          pair.pod.path,
          '--dst',
          at(NET.ipv6.ext, 80),
          '--uid',
          '1000',
          '--live',
          '--live-seconds',
          '60',
          '--json',
        ],
        { reject: false, stdin: 'ignore' },
      );
      await new Promise<void>((resolve) => {
        let stderr = '';
        child.stderr?.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes('tracing for up to')) resolve();
        });
      });
      expect((await pair.pod.exec('nft', ['list', 'tables'])).stdout).toMatch(/istio-explain-trace-\d+/);
      child.kill('SIGINT');
      const result = await child;
      expect(result.exitCode, String(result.stderr)).toBe(0);
      expect(JSON.parse(String(result.stdout))).toMatchObject({
        outcome: 'redirect',
        tracer: 'nft monitor trace',
        trace: [],
      });
      expect((await pair.pod.exec('nft', ['list', 'tables'])).stdout).not.toContain('istio-explain-trace');
    });
  });
});
