/**
 * The seed's flags in the kernel, on both backends: `--iptables-trace-logging` loads its NFLOG
 * twins and a captured connection sends NFLOG messages with their prefixes to group 1337 (read
 * with tcpdump on nflog:1337 inside the pod's namespace); `-f=false` writes the same rules as a
 * restore would, one command at a time, re-runs change nothing, and a command failing part-way
 * leaves the namespace as it was.
 */
import { execa } from 'execa';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { kernelSkipReason, runTool, sh, withNamespace } from './support/kernel.js';
import { APP, NET, ROOT, startStandardServers, withNamespacePair } from './support/traffic.js';

const BACKENDS = ['nft', 'legacy'] as const;
const INJECTOR = ['-p', '15001', '-z', '15006', '-u', '1337', '-g', '1337', '-m', 'REDIRECT', '-i', '*', '-x', ''];
const DEFAULTS = [...INJECTOR, '-b', '*', '-d', '15090,15021,15020'];

const scratch = mkdtempSync(join(tmpdir(), 'seed-kernel-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** NFLOG's attribute type for the prefix (linux/netfilter/nfnetlink_log.h: NFULA_PREFIX). */
const NFULA_PREFIX = 10;
/** pcap's link type for NFLOG messages. */
const LINKTYPE_NFLOG = 239;

/** The prefix of every NFLOG message in a pcap file tcpdump wrote. */
function nflogPrefixes(pcap: Buffer): string[] {
  const little = pcap.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (offset: number) => (little ? pcap.readUInt32LE(offset) : pcap.readUInt32BE(offset));
  expect(u32(20)).toBe(LINKTYPE_NFLOG);
  const prefixes: string[] = [];
  for (let record = 24; record + 16 <= pcap.length; ) {
    const length = u32(record + 8);
    const packet = pcap.subarray(record + 16, record + 16 + length);
    // 4 bytes of header (family, version, resource id), then TLVs in host byte order, 4-aligned.
    for (let tlv = 4; tlv + 4 <= packet.length; ) {
      const size = packet.readUInt16LE(tlv);
      const type = packet.readUInt16LE(tlv + 2) & 0x7fff;
      if (size < 4) break;
      if (type === NFULA_PREFIX)
        prefixes.push(
          packet
            .subarray(tlv + 4, tlv + size)
            .toString('latin1')
            .replace(/\0.*$/s, ''),
        );
      tlv += (size + 3) & ~3;
    }
    record += 16 + length;
  }
  return prefixes;
}

/** tcpdump on nflog:1337 in a namespace, writing a pcap file; stopped (its own pid) by `stop()`. */
async function captureNflog(namespace: string, file: string) {
  const child = execa(
    'ip',
    ['netns', 'exec', namespace, 'tcpdump', '-i', 'nflog:1337', '-U', '-Z', 'root', '-w', file],
    {
      reject: false,
      stdin: 'ignore',
    },
  );
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 5000);
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.then((r) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited (${r.exitCode}): ${err}`));
    });
  });
  const read = () => {
    const pcap = readFileSync(file);
    return pcap.length >= 24 ? nflogPrefixes(pcap) : [];
  };
  return {
    /** Waits (at most 5 s) until `done` holds for the prefixes written so far, then stops tcpdump. */
    async stop(done: (prefixes: readonly string[]) => boolean): Promise<string[]> {
      const deadline = Date.now() + 5000;
      while (!done(read()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      child.kill('SIGINT');
      await child;
      return read();
    },
  };
}

describe.skipIf(kernelSkipReason)('the seed flags in the kernel', () => {
  describe.each(BACKENDS)('%s', (backend) => {
    test('--iptables-trace-logging: the twins load, and a captured connection logs their prefixes', async () => {
      await withNamespacePair('trace', async (pair) => {
        await startStandardServers(pair, 'REDIRECT');
        const applied = await pair.applyTool(
          [...DEFAULTS, '--iptables-trace-logging', '--log_as_json'],
          backend,
          false,
        );
        expect(applied.code, applied.stderr).toBe(0);
        // A real run's log, as JSON lines: every line parses.
        const log = applied.stderr.trim().split('\n');
        expect(log.map((line) => (JSON.parse(line) as { level: string }).level)).toContain('info');
        expect(applied.stderr).toContain('no rules of ours yet');
        const live = await pair.pod.save(`iptables-${backend}`);
        expect(live.split('\n').filter((line) => line.includes('-j NFLOG --nflog-prefix'))).toHaveLength(6);

        const capture = await captureNflog(pair.pod.name, join(scratch, `trace-${backend}.pcap`));
        const v4 = NET.ipv4;
        // Inbound to the app's port: captured to the proxy's 15006.
        expect(await pair.connect('peer', ROOT, 'tcp', v4.pod, 8080)).toMatch(/^proxy15006 /);
        // Outbound from the app: captured to 15001.
        expect(await pair.connect('pod', APP, 'tcp', v4.ext, 80)).toMatch(/^proxy15001 /);
        // An excluded inbound port passes (nobody listens there).
        expect(await pair.connect('peer', ROOT, 'tcp', v4.pod, 15021)).toMatch(/^NO-REPLY/);
        const expected = ['ExcludeInboundPort', 'InboundCapture', 'JumpInbound', 'JumpOutbound'];
        // The kernel hands NFLOG messages over in batches (a flush timer of up to a second).
        const prefixes = await capture.stop((seen) => expected.every((prefix) => seen.includes(prefix)));
        expect([...new Set(prefixes)].sort()).toEqual(expected);
      });
    });

    test('-f=false: the same rules as a restore, in both families; a re-run changes nothing', async () => {
      await withNamespace('perrule-restore', async (control) => {
        await withNamespace('perrule', async (ns) => {
          const args = (path: string) => [
            ...DEFAULTS,
            '-m',
            'TPROXY',
            '-c',
            'eth9',
            '--iptables-trace-logging',
            '--enable-inbound-ipv6=true',
            '--force-iptables-binary',
            backend,
            '--network-namespace',
            path,
          ];
          const viaRestore = await runTool(args(control.path));
          expect(viaRestore.code, viaRestore.stderr).toBe(0);
          const perRule = await runTool([...args(ns.path), '-f=false', '--log_output_level=iptables:debug']);
          expect(perRule.code, perRule.stderr).toBe(0);
          expect(perRule.stderr).toContain('one iptables command each (--restore-format=false)');
          // Each command, logged on the iptables scope at debug level (run in the namespace this
          // process entered: no nsenter).
          expect(perRule.stderr).toContain(
            `\tdebug\tiptables\tRunning command: iptables-${backend} -t mangle -N ISTIO_DIVERT`,
          );
          for (const binary of [`iptables-${backend}`, `ip6tables-${backend}`]) {
            const live = await ns.save(binary);
            expect(live).toContain('-A ISTIO_INBOUND');
            expect(live).toBe(await control.save(binary));
          }
          const again = await runTool([...args(ns.path), '-f=false']);
          expect(again.code, again.stderr).toBe(0);
          expect(again.stderr).toContain('already match the plan');
          // Cleanup removes the trace twins with the rest.
          const cleaned = await runTool([...args(ns.path), '-f=false', '--cleanup-only']);
          expect(cleaned.code, cleaned.stderr).toBe(0);
          for (const binary of [`iptables-${backend}`, `ip6tables-${backend}`])
            expect(await ns.save(binary)).not.toMatch(/ISTIO|NFLOG/);
        });
      });
    });

    test('-f=false: a command failing part-way rolls back to the state before the run', async () => {
      await withNamespace('perrule-fail', async (ns) => {
        // A foreign rule, which must survive; then a stand-in binary that refuses our OUTPUT jump.
        await ns.exec(`iptables-${backend}`, ['-t', 'nat', '-A', 'OUTPUT', '-d', '203.0.113.9/32', '-j', 'RETURN']);
        const before = await ns.save(`iptables-${backend}`);
        const real = (await sh('sh', ['-c', `command -v iptables-${backend}`])).stdout.trim();
        const stubs = mkdtempSync(join(scratch, 'stubs-'));
        const stub = join(stubs, `iptables-${backend}`);
        writeFileSync(
          stub,
          `#!/bin/sh\nprev=\nfor a in "$@"; do\n  if [ "$prev" = -A ] && [ "$a" = OUTPUT ]; then echo "stub: refused" >&2; exit 1; fi\n  prev=$a\ndone\nexec ${real} "$@"\n`,
        );
        chmodSync(stub, 0o755);
        const failed = await runTool(
          [
            ...DEFAULTS,
            '-f=false',
            '--enable-inbound-ipv6=false',
            '--force-iptables-binary',
            backend,
            '--network-namespace',
            ns.path,
          ],
          { PATH: `${stubs}:${process.env.PATH ?? ''}` },
        );
        expect(failed.code).toBe(1);
        expect(failed.stderr).toMatch(/ipv4: command \d+ of \d+ failed \(exit 1\): `iptables-\S+ -t nat -A OUTPUT/);
        expect(failed.stderr).toContain('stub: refused');
        expect(failed.stderr).toContain('rolled back to the state before this run');
        expect(await ns.save(`iptables-${backend}`)).toBe(before);
      });
    });
  });
});
