/**
 * Random upstream-valid configurations (test/property/generate.ts) applied for real: every
 * spelling the tool accepts must be a rule both backends take, read back as planned; a re-run
 * must change nothing, and --cleanup-only must remove every rule. Owner names are replaced by
 * numbers first (iptables resolves names through this machine's user database, which the
 * generator knows nothing of).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { generateCase } from './property/generate.js';
import { kernelSkipReason, runTool, withNamespace } from './support/kernel.js';

/** Four by default; PROPERTY_KERNEL_COUNT for more. */
const SEEDS = Array.from({ length: Number(process.env.PROPERTY_KERNEL_COUNT ?? 4) }, (_, i) => 1601 + i);
const OWNER_KEYS = ['PROXY_UID', 'PROXY_GID', 'OUTBOUND_OWNER_GROUPS_INCLUDE', 'OUTBOUND_OWNER_GROUPS_EXCLUDE'];

const scratch = mkdtempSync(join(tmpdir(), 'property-kernel-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function configFile(seed: number): string {
  const record: Record<string, unknown> = { ...generateCase(seed).record };
  for (const key of OWNER_KEYS) record[key] = String(record[key]).replace(/[A-Za-z_][A-Za-z0-9_.-]*/g, '4242');
  const path = join(scratch, `${seed}.json`);
  writeFileSync(path, JSON.stringify(record));
  return path;
}

describe.skipIf(kernelSkipReason)('random configurations in a namespace', () => {
  for (const backend of ['nft', 'legacy']) {
    test.each(SEEDS)(
      `${backend}: case %i applies, reads back as planned, re-runs as a no-op, cleans up`,
      async (seed) => {
        await withNamespace(`prop-${backend}`, async (ns) => {
          const args = ['--config', configFile(seed), '--dry-run=false', '--force-iptables-binary', backend];
          const first = await runTool([...args, '--network-namespace', ns.path]);
          expect(first.code, first.stderr).toBe(0);
          const again = await runTool([...args, '--network-namespace', ns.path]);
          expect(again.code, again.stderr).toBe(0);
          expect(again.stderr).toContain(`ipv4 (${backend}): the live rules already match the plan; nothing to do`);
          const cleanup = await runTool([...args, '--cleanup-only', '--network-namespace', ns.path]);
          expect(cleanup.code, cleanup.stderr).toBe(0);
          for (const binary of [`iptables-${backend}`, `ip6tables-${backend}`])
            expect(await ns.save(binary), binary).not.toContain('ISTIO');
        });
      },
    );
  }
});
