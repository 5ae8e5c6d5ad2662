/** The real process-running dependencies of the CLI (the process runner binds to node at its first command). */
import { fileURLToPath } from 'node:url';
import type { HostFacts } from '../config/derive.js';
import type { ParsedConfig } from '../config/to-capture-config.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import { applyCapture } from '../exec/apply.js';
import { checkPrivileges } from '../exec/capabilities.js';
import { privilegesError } from '../exec/command.js';
import { legacyTablesIn, localHostFacts, localLegacyTables, netnsHostFacts } from '../exec/host-facts.js';
import { nftInstalled } from '../exec/nft-tables.js';
import { processRunner } from '../exec/process-runner.js';
import { checkNetnsPath, netnsRunner } from '../exec/netns.js';
import { realSleep } from '../exec/retry.js';
import { runValidation } from '../exec/validation.js';

/**
 * The probe script, beside this file both in the tsc output (dist/cli) and in the bundle
 * (dist/bundle/cli): worked out when a validation runs, not at every start.
 */
export const probeScript = (): string => fileURLToPath(new URL('../cli/probe.js', import.meta.url));

export async function namespaceHostFacts(netns: string): Promise<HostFacts> {
  await checkNetnsPath(netns);
  return netnsHostFacts(localHostFacts, netnsRunner(processRunner, netns));
}

export async function applyForReal(
  plan: CapturePlan,
  parsed: ParsedConfig,
  log: (line: string) => void,
): Promise<void> {
  const { options, config } = parsed;
  if (options.networkNamespace) await checkNetnsPath(options.networkNamespace);
  if (options.skipRuleApply) log('--skip-rule-apply: no rules applied');
  else {
    checkPrivileges(options.networkNamespace !== undefined, privilegesError);
    const { iptables, networkNamespace, cleanupOnly, reconcile, forceApply, migrate } = options;
    const where = networkNamespace ? { networkNamespace } : {};
    await applyCapture(
      plan,
      { iptables, ...where, cleanupOnly, reconcile, forceApply, migrate },
      {
        runner: processRunner,
        log,
        retry: { attempts: 4, delayMs: 250, sleep: realSleep },
        // The kernel's table list tells whether legacy can hold rules, which spares the legacy
        // state read: ours, a process's (/proc/PID/ns/net), or, for a bind-mounted namespace,
        // only whether legacy is loaded at all.
        legacyTables: options.networkNamespace ? legacyTablesIn(options.networkNamespace) : localLegacyTables,
        nftInstalled: nftInstalled(process.env.PATH),
      },
    );
  }
  if (!options.runValidation) return;
  await runValidation(
    netnsRunner(processRunner, options.networkNamespace),
    {
      script: probeScript(),
      family: options.hostIp?.family ?? 'ipv4',
      proxyPort: config.outbound.proxyPort,
      capturePort: config.inbound.capturePort,
      probePort: options.probePort,
      timeoutMs: options.probeTimeoutMs,
    },
    log,
  );
}
