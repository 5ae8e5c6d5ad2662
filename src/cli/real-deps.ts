/** The real process-running dependencies of the CLI (the process runner binds to node at its first command). */
import { fileURLToPath } from 'node:url';
import type { HostFacts } from '../config/derive.js';
import type { ParsedConfig } from '../config/to-capture-config.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import type { NftPlan } from '../plan/nft/plan-nft.js';
import { legacyTablesIn, localHostFacts, localLegacyTables, netnsHostFacts, readTextFile } from '../exec/host-facts.js';
import { applyExclusively } from '../exec/exclusive-apply.js';
import { withNamespaceLock } from '../exec/lock.js';
import { processRunner } from '../exec/process-runner.js';
import { checkNetnsPath, netnsRunner } from '../exec/netns.js';
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
  const { options } = parsed;
  if (options.networkNamespace) await checkNetnsPath(options.networkNamespace);
  if (options.skipRuleApply) log('--skip-rule-apply: no rules applied');
  else {
    await applyExclusively(plan, options, log);
  }
  await validateIfAsked(parsed, log);
}

/**
 * `--native-nftables` for real: the same namespace check, namespace lock, skip and validation as
 * the iptables mode around the nftables applier, which is loaded only for such runs.
 */
export async function applyNftablesForReal(
  plan: NftPlan,
  parsed: ParsedConfig,
  log: (line: string) => void,
): Promise<void> {
  const { options, config } = parsed;
  const netns = options.networkNamespace;
  if (netns) await checkNetnsPath(netns);
  if (options.skipRuleApply) log('--skip-rule-apply: no rules applied');
  else {
    const { applyNftables } = await import('../exec/nft/apply.js');
    const legacyTables = netns ? legacyTablesIn(netns) : localLegacyTables;
    await withNamespaceLock(processRunner, netns, options.lockTimeoutMs, (runner) =>
      applyNftables(plan, config, options, { runner, log, readTextFile, legacyTables }),
    );
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
