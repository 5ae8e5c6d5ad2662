/**
 * explain against the kernel. For a matrix of settings, on both backends and both families,
 * the rules are applied into a pod namespace (test/support/traffic.ts), real connections are
 * opened, and where each lands (which listener, which original destination) must be exactly
 * what `explain --json` of the plan predicted: redirect to 15001/15006/15053, TPROXY to 15006
 * with the destination kept, or untouched; a KubeVirt VM's traffic (-k) included. The same
 * namespace's live rules (`--network-namespace`) and fresh iptables-save dumps of it
 * (`--from-save`) must then decide every flow of `--report` as the plan does.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runCli } from './support/cli.js';
import {
  common,
  type Doc,
  flows,
  landed,
  SETTINGS,
  traced,
  type TracedDoc,
  verdicts,
} from './support/explain-matrix.js';
import { kernelSkipReason, runTool } from './support/kernel.js';
import {
  APP,
  type Backend,
  type Family,
  NET,
  type Pair,
  PROXY,
  ROOT,
  startStandardServers,
  withNamespacePair,
} from './support/traffic.js';

describe.skipIf(kernelSkipReason)('explain predicts where real connections land', () => {
  for (const backend of ['nft', 'legacy'] as const satisfies readonly Backend[])
    for (const setting of SETTINGS)
      test(`${backend} · ${setting.name}`, async () => {
        await withNamespacePair('ex', async (pair: Pair) => {
          const args = [...common(setting.mode), ...setting.args(pair.links.second.pod), '--host-ip', NET.ipv4.pod];
          const [, applied] = await Promise.all([
            startStandardServers(pair, setting.mode),
            pair.applyTool(args, backend, true),
          ]);
          expect(applied.code, applied.stderr).toBe(0);
          const capture = [...args, '--enable-inbound-ipv6=true'];
          const predicted: Record<string, unknown> = {};
          const observed: Record<string, unknown> = {};
          for (const family of ['ipv4', 'ipv6'] as const satisfies readonly Family[]) {
            for (const flow of flows(NET[family], pair.links.main.pod, pair.links.second.pod, setting.vm === true)) {
              const key = `${family} ${flow.what}`;
              const explained = await runCli(['explain', ...capture, ...flow.explain, '--json']);
              expect(explained.code, explained.stderr).toBe(0);
              const doc = JSON.parse(explained.stdout) as Doc;
              predicted[key] = { outcome: doc.outcome, ...(doc.toPort ? { toPort: doc.toPort } : {}) };
              observed[key] = landed(await pair.connect(flow.from, flow.who, flow.proto, ...flow.to), setting.mode);
            }
          }
          expect(observed).toEqual(predicted);
          // The matrix means something only if each setting sends flows every way it can.
          const outcomes = new Set(Object.values(predicted).map((p) => (p as { outcome: string }).outcome));
          expect([...outcomes].sort()).toEqual(
            setting.mode === 'TPROXY' ? ['accept', 'redirect', 'tproxy'] : ['accept', 'redirect'],
          );

          // The live rules and fresh dumps of them decide every --report flow as the plan does.
          const plan = await runCli(['explain', ...capture, '--report', '--json']);
          expect(plan.code, plan.stderr).toBe(0);
          const live = await runTool([
            'explain',
            ...capture,
            '--network-namespace',
            pair.pod.path,
            '--report',
            '--json',
          ]);
          expect(live.code, live.stderr).toBe(0);
          expect(verdicts(JSON.parse(live.stdout))).toEqual(verdicts(JSON.parse(plan.stdout)));
          const dir = mkdtempSync(join(tmpdir(), 'iit-explain-'));
          try {
            const saves = [];
            for (const prefix of ['iptables', 'ip6tables']) {
              const file = join(dir, prefix);
              writeFileSync(file, (await pair.pod.exec(`${prefix}-${backend}-save`, [])).stdout);
              saves.push('--from-save', file);
            }
            const saved = await runCli(['explain', ...capture, ...saves, '--report', '--json']);
            expect(saved.code, saved.stderr).toBe(0);
            expect(verdicts(JSON.parse(saved.stdout))).toEqual(verdicts(JSON.parse(plan.stdout)));
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        });
      });
});

describe.skipIf(kernelSkipReason)('explain --live: the kernel trace beside the simulated path', () => {
  test('nft: the rules the kernel matched are the rules the simulation matched, in order; the trace rule is gone after', async () => {
    await withNamespacePair('lv', async (pair) => {
      const args = [
        ...common('TPROXY'),
        '-b',
        '*',
        '-i',
        '*',
        '--redirect-dns',
        '--capture-all-dns',
        '--host-ip',
        NET.ipv4.pod,
      ];
      const [, applied] = await Promise.all([startStandardServers(pair, 'TPROXY'), pair.applyTool(args, 'nft', true)]);
      expect(applied.code, applied.stderr).toBe(0);
      const live = [...args, '--enable-inbound-ipv6=true', '--network-namespace', pair.pod.path];
      const main = pair.links.main.pod;
      const samples: [string, string[], () => Promise<string>][] = [];
      for (const n of [NET.ipv4, NET.ipv6]) {
        const at = (h: string, p: number) => (h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`);
        samples.push(
          [
            `${n.family} app → ext:80`,
            ['--dst', at(n.ext, 80), '--uid', '1000', '--gid', '1000', '--out-interface', main],
            () => pair.connect('pod', APP, 'tcp', n.ext, 80),
          ],
          [
            `${n.family} app → resolver:53 udp`,
            ['--protocol', 'udp', '--dst', at(n.peer, 53), '--uid', '1000', '--gid', '1000', '--out-interface', main],
            () => pair.connect('pod', APP, 'udp', n.peer, 53),
          ],
          [
            `${n.family} proxy → ext:80`,
            ['--dst', at(n.ext, 80), '--uid', '1337', '--gid', '1337', '--out-interface', main],
            () => pair.connect('pod', PROXY, 'tcp', n.ext, 80),
          ],
          [
            `${n.family} peer → pod:8080`,
            ['--direction', 'inbound', '--src', n.peer, '--dst', at(n.pod, 8080), '--in-interface', main],
            () => pair.connect('peer', ROOT, 'tcp', n.pod, 8080),
          ],
        );
      }
      const leftovers = async () =>
        (await pair.pod.exec('iptables-nft-save', [])).stdout +
        (await pair.pod.exec('ip6tables-nft-save', [])).stdout +
        (await pair.pod.exec('nft', ['list', 'ruleset'])).stdout;
      for (const [what, flow, open] of samples) {
        const { landedOn, doc } = await traced([...live, ...flow], open, leftovers);
        expect(landed(landedOn, 'TPROXY').outcome, what).toBe(doc.outcome);
        expect(Array.isArray(doc.trace), `${what}: ${JSON.stringify(doc.trace)}`).toBe(true);
        const trace = doc.trace as { table: string; chain: string; kind: string; rule?: string }[];
        expect(trace.length, `${what}: ${JSON.stringify(doc.trace)} ${landedOn}`).toBeGreaterThan(0);
        const simulated = doc.path.filter((s) => s.matched && !s.rule.startsWith('-P '));
        if (what.startsWith('ipv4')) {
          expect(doc.tracer).toBe('xtables-monitor --trace');
          expect(String(trace[0]?.rule), `${what}: ${JSON.stringify(trace)}`).toMatch(
            /-m comment --comment "istio-iptables explain trace \d+" -j TRACE$/,
          );
          const kernel = trace
            .slice(1)
            .filter((s) => s.kind === 'rule')
            .map((s) => s.rule);
          expect(kernel, what).toEqual(simulated.map((s) => s.rule));
          continue;
        }
        // IPv6: xtables-monitor 1.8.9 cannot print these rules; nft monitor trace reads the same
        // iptables-nft tables (as `ip6 nat`, …) and prints their rules in nft syntax, so the
        // rules the kernel matched are compared by table and chain, in order.
        expect(doc.tracer).toBe('nft monitor trace');
        expect(trace[0]?.table).toMatch(/^inet istio-explain-trace-\d+$/);
        const kernel = trace
          .filter((s) => s.kind === 'rule' && s.table.startsWith('ip6 '))
          .map((s) => `${s.table.slice(4)} ${s.chain}`);
        expect(kernel, what).toEqual(simulated.map((s) => `${s.table} ${s.chain}`));
      }
    });
  });

  test('legacy: says the kernel cannot be traced there, and still explains', async () => {
    await withNamespacePair('lv', async (pair) => {
      const args = [...common('REDIRECT'), '-b', '*', '-i', '*', '--host-ip', NET.ipv4.pod];
      const applied = await pair.applyTool(args, 'legacy', false);
      expect(applied.code, applied.stderr).toBe(0);
      const result = await runTool([
        'explain',
        ...args,
        '--enable-inbound-ipv6=false',
        '--network-namespace',
        pair.pod.path,
        '--dst',
        `${NET.ipv4.ext}:80`,
        '--uid',
        '1000',
        '--live',
        '--json',
      ]);
      expect(result.code, result.stderr).toBe(0);
      const doc = JSON.parse(result.stdout) as TracedDoc;
      expect(doc.outcome).toBe('redirect');
      expect(doc.trace).toEqual({ unavailable: expect.stringMatching(/^the legacy backend cannot be traced here/) });
    });
  });
});
