/**
 * Around the whole suite: the root namespace's rules must be the same after it as before,
 * and no test namespace may be left behind.
 */
import { randomBytes } from 'node:crypto';

export default async function setup() {
  process.env.IIT_RUN_ID ??= randomBytes(3).toString('hex');
  const { kernelSkipReason, leftoverNamespaces, rootSnapshot } = await import('./support/kernel.js');
  if (kernelSkipReason) return undefined;
  const before = await rootSnapshot();
  return async function teardown() {
    const after = await rootSnapshot();
    // vitest reports an error thrown here but still exits 0: set the exit code too.
    if (after !== before) {
      process.exitCode = 1;
      throw new Error(`the test suite changed the root namespace's rules:\n--- before\n${before}\n--- after\n${after}`);
    }
    const left = await leftoverNamespaces();
    if (left.length > 0) {
      process.exitCode = 1;
      throw new Error(`test namespaces left behind: ${left.join(', ')}`);
    }
  };
}
