/**
 * A real run as every entry point (the CLI, the CNI plugin) makes it: the programs it needs
 * checked before the first change, then everything it does to the namespace under that
 * namespace's lock (lock.ts), with SIGTERM/SIGINT letting the change under way finish and
 * rolling back (interrupt.ts).
 */
import type { RunOptions } from '../config/capture-config.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import { applyCapture } from './apply.js';
import { checkPrivileges } from './capabilities.js';
import { privilegesError } from './command.js';
import { runLegacyTables } from './host-facts.js';
import { watchInterrupts } from './interrupt.js';
import { type LockMeans, withNamespaceLock } from './lock.js';
import { nativeNftTablesLister } from './nft-tables.js';
import { checkPrograms } from './preflight.js';
import { processRunner } from './process-runner.js';
import { realSleep } from './retry.js';

/** The run options a real run uses. */
export type ExclusiveApplyOptions = Pick<
  RunOptions,
  'iptables' | 'networkNamespace' | 'cleanupOnly' | 'reconcile' | 'forceApply' | 'lockTimeoutMs' | 'restoreFormat'
> & { readonly migrate?: boolean };

/**
 * Applies (or, with `cleanupOnly`, removes) the plan for real, alone in its namespace.
 * `means` runs the commands (the CLI's logs each one when asked to) and holds the native
 * helper where one is loaded (native.ts).
 */
export async function applyExclusively(
  plan: CapturePlan,
  options: ExclusiveApplyOptions,
  log: (line: string) => void,
  means: LockMeans = { runner: processRunner },
): Promise<void> {
  const { iptables, networkNamespace, cleanupOnly, reconcile, forceApply, lockTimeoutMs, migrate, restoreFormat } =
    options;
  checkPrivileges(networkNamespace !== undefined, privilegesError);
  checkPrograms(plan, options, means.native !== undefined);
  await withNamespaceLock(means, networkNamespace, lockTimeoutMs, async (runner) => {
    const interrupts = watchInterrupts();
    const nftTables = nativeNftTablesLister(means.native, process.env.PATH);
    try {
      await applyCapture(
        plan,
        {
          iptables,
          ...(networkNamespace ? { networkNamespace } : {}),
          cleanupOnly,
          reconcile,
          forceApply,
          ...(migrate ? { migrate } : {}),
          lockWaitSeconds: Math.ceil(lockTimeoutMs / 1000),
          restoreFormat,
        },
        {
          runner: interrupts.wrap(runner),
          log,
          retry: { attempts: 4, delayMs: 250, sleep: realSleep },
          // The kernel's table list tells whether legacy can hold rules, which spares the legacy
          // state read (host-facts.ts).
          legacyTables: runLegacyTables(networkNamespace),
          ...(nftTables ? { nativeNftTables: nftTables } : {}),
        },
      );
      if (interrupts.received) log(`${interrupts.received} came after the run's last change; it finished`);
    } finally {
      interrupts.dispose();
    }
  });
}
