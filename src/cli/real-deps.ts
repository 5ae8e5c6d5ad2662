/** The real process-running dependencies of the CLI (the process runner binds to node at its first command). */
import { fileURLToPath } from 'node:url';
import type { HostFacts } from '../config/derive.js';
import type { ParsedConfig } from '../config/to-capture-config.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import { applyCapture } from '../exec/apply.js';
import { legacyTablesIn, localHostFacts, localLegacyTables, netnsHostFacts, readTextFile } from '../exec/host-facts.js';
import { refuseNftablesMode } from '../exec/nft/other-mode.js';
import { processRunner } from '../exec/process-runner.js';
import { checkNetnsPath, netnsRunner } from '../exec/netns.js';
import { realSleep } from '../exec/retry.js';
import { runValidation } from '../exec/validation.js';
import type { NftPlan } from '../plan/nft/plan-nft.js';

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
  const { options } = parsed;
  if (options.networkNamespace) await checkNetnsPath(options.networkNamespace);
  if (options.skipRuleApply) log('--skip-rule-apply: no rules applied');
  else {
    if (!options.cleanupOnly) await refuseNftablesMode(netnsRunner(processRunner, options.networkNamespace));
    const { iptables, networkNamespace, cleanupOnly, reconcile, forceApply } = options;
    const where = networkNamespace ? { networkNamespace } : {};
    await applyCapture(
      plan,
      { iptables, ...where, cleanupOnly, reconcile, forceApply },
      {
        runner: processRunner,
        log,
        retry: { attempts: 4, delayMs: 250, sleep: realSleep },
        // The kernel's table list tells whether legacy can hold rules, which spares the legacy
        // state read: ours, a process's (/proc/PID/ns/net), or, for a bind-mounted namespace,
        // only whether legacy is loaded at all.
        legacyTables: options.networkNamespace ? legacyTablesIn(options.networkNamespace) : localLegacyTables,
      },
    );
  }
  await validateIfAsked(parsed, log);
}

/**
 * `--native-nftables` for real: the same namespace check, skip and validation as the iptables
 * mode around the nftables applier, which is loaded only for such runs.
 */
export async function applyNftablesForReal(
  plan: NftPlan,
  parsed: ParsedConfig,
  log: (line: string) => void,
): Promise<void> {
  const { options, config } = parsed;
  if (options.networkNamespace) await checkNetnsPath(options.networkNamespace);
  if (options.skipRuleApply) log('--skip-rule-apply: no rules applied');
  else {
    const { applyNftables } = await import('../exec/nft/apply.js');
    await applyNftables(plan, config, options, {
      runner: processRunner,
      log,
      readTextFile,
      legacyTables: options.networkNamespace ? legacyTablesIn(options.networkNamespace) : localLegacyTables,
    });
  }
  await validateIfAsked(parsed, log);
}

async function validateIfAsked({ options, config }: ParsedConfig, log: (line: string) => void): Promise<void> {
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
