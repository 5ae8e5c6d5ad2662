/** The plugin's real dependencies: the pod's namespace as host facts, and applying into it (either rule manager). */
import { statSync, writeFileSync } from 'node:fs';
import { applyExclusively } from '../exec/exclusive-apply.js';
import { localHostFacts, netnsHostFacts } from '../exec/host-facts.js';
import { type LockMeans, packagedLockMeans, withNamespaceLock } from '../exec/lock.js';
import { checkNetnsPath, netnsRunner } from '../exec/netns.js';
import { processRunner } from '../exec/process-runner.js';
import { checkCapture } from './check.js';
import type { PluginDeps } from './plugin.js';

/** How the plugin takes a namespace's lock and enters it: the native helper where built. */
const lockMeans = (): LockMeans => packagedLockMeans(import.meta.dirname, processRunner);

export const realPluginDeps: PluginDeps = {
  hostFacts: async (netns) => {
    await checkNetnsPath(netns);
    return netnsHostFacts(localHostFacts, netnsRunner(processRunner, netns));
  },
  apply: async (plan, parsed, log) => {
    const { networkNamespace } = parsed.options;
    if (!networkNamespace) throw new Error('the plugin always names the pod namespace');
    await checkNetnsPath(networkNamespace);
    // Overlapping ADDs (a retry, the repair controller) and an init container's run take turns.
    await applyExclusively(plan, parsed.options, log, lockMeans());
  },
  // A check reads only a whole state: never one a run is half-way through.
  check: (plan, options) =>
    withNamespaceLock(lockMeans(), options.networkNamespace, options.lockTimeoutMs, (runner) =>
      checkCapture(plan, options, runner),
    ),
  // native_nftables: the CLI's `--native-nftables` applier and its lock, loaded only for it.
  applyNftables: async (plan, { config, options }, log) => {
    if (!options.networkNamespace) throw new Error('the plugin always names the pod namespace');
    await checkNetnsPath(options.networkNamespace);
    const { applyNftablesExclusively } = await import('../exec/nft/exclusive.js');
    await applyNftablesExclusively(plan, config, options, log, lockMeans());
  },
  checkNftables: async (plan, { config, options }) => {
    const { nftDifferences } = await import('../exec/nft/exclusive.js');
    return nftDifferences(plan, config, options, lockMeans());
  },
  writeFile: (path, text) => writeFileSync(path, text),
  namespaceExists: (path) => {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  },
};
