/**
 * The build's warm-up runs (scripts/warm-up.mjs), which write the bundle's code caches with real
 * runs into the building machine's own namespace, change nothing there: every program they
 * start is a stub, and nothing reaches the kernel past them (the native helper's libnftables
 * would: the nftables run goes without the helper).
 */
import { cpSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { kernelSkipReason, REPO, rootSnapshot, sh } from './support/kernel.js';

describe.skipIf(kernelSkipReason)("the build's warm-up", () => {
  test("writes every code cache with real runs, and leaves this machine's rules as they were", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iit-warm-up-'));
    try {
      cpSync(`${REPO}bin`, join(dir, 'bin'), { recursive: true });
      cpSync(`${REPO}dist/bundle`, join(dir, 'dist/bundle'), { recursive: true });
      const caches = ['cli/bin.js', 'cli/real-deps.js', 'cli/nftables.js', 'exec/nft/exclusive.js'].map((file) =>
        join(dir, 'dist/bundle', `${file}.cache`),
      );
      for (const cache of caches) rmSync(cache, { force: true });
      const before = await rootSnapshot();
      const result = await sh(process.execPath, [`${REPO}scripts/warm-up.mjs`, join(dir, 'bin/istio-iptables')]);
      expect(await rootSnapshot()).toBe(before);
      // The iptables run went the whole way: planned, "applied" and read back through the stubs.
      expect(JSON.parse(result.stdout)).toMatchObject({ iptables: 0 });
      for (const cache of caches) expect(existsSync(cache) && statSync(cache).size > 0, cache).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
