/** The plugin's real dependencies: the pod's namespace as host facts, and applying into it. */
import { statSync, writeFileSync } from 'node:fs';
import { applyCapture } from '../exec/apply.js';
import { legacyTablesIn, localHostFacts, netnsHostFacts } from '../exec/host-facts.js';
import { checkNetnsPath, netnsRunner } from '../exec/netns.js';
import { processRunner } from '../exec/process-runner.js';
import { realSleep } from '../exec/retry.js';
import { checkCapture } from './check.js';
import type { PluginDeps } from './plugin.js';

export const realPluginDeps: PluginDeps = {
  hostFacts: async (netns) => {
    await checkNetnsPath(netns);
    return netnsHostFacts(localHostFacts, netnsRunner(processRunner, netns));
  },
  apply: async (plan, parsed, log) => {
    const { iptables, networkNamespace, cleanupOnly, reconcile, forceApply } = parsed.options;
    if (!networkNamespace) throw new Error('the plugin always names the pod namespace');
    await checkNetnsPath(networkNamespace);
    await applyCapture(
      plan,
      { iptables, networkNamespace, cleanupOnly, reconcile, forceApply },
      {
        runner: processRunner,
        log,
        retry: { attempts: 4, delayMs: 250, sleep: realSleep },
        legacyTables: legacyTablesIn(networkNamespace),
      },
    );
  },
  check: (plan, options) => checkCapture(plan, options, processRunner),
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
