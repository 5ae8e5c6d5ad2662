/** The real process-running dependencies of the CLI (the process runner binds to node at its first command). */
import { fileURLToPath } from 'node:url';
import type { HostFacts } from '../config/derive.js';
import type { ParsedConfig } from '../config/to-capture-config.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import type { NftPlan } from '../plan/nft/plan-nft.js';
import type { CommandRunner } from '../exec/command.js';
import { applyExclusively } from '../exec/exclusive-apply.js';
import { localHostFacts, netnsHostFacts } from '../exec/host-facts.js';
import { type LockMeans, packagedLockMeans } from '../exec/lock.js';
import { processRunner as plainRunner } from '../exec/process-runner.js';
import { checkNetnsPath, netnsRunner } from '../exec/netns.js';
import { runValidation } from '../exec/validation.js';
import { type Logger, lineLogger } from './logging.js';

/**
 * The probe script, beside this file both in the tsc output (dist/cli) and in the bundle
 * (dist/bundle/cli): worked out when a validation runs, not at every start.
 */
export const probeScript = (): string => fileURLToPath(new URL('../cli/probe.js', import.meta.url));

/** The scope command lines are logged on at debug level (`--log_output_level=iptables:debug`). */
const COMMAND_SCOPE = 'iptables';

/** The process runner, logging each command line (and a failure's exit code) when asked to. */
function runnerFor(logger: Logger): CommandRunner {
  if (!logger.enabled('debug', COMMAND_SCOPE)) return plainRunner;
  return {
    async run(command) {
      logger.debug(`Running command: ${[command.file, ...command.args].join(' ')}`, COMMAND_SCOPE);
      const result = await plainRunner.run(command);
      if (result.exitCode !== 0) logger.debug(`exit ${result.exitCode}: ${result.stderr.trim()}`, COMMAND_SCOPE);
      return result;
    },
  };
}

/** How a real run takes its lock and enters its namespace: the native helper where built. */
const lockMeans = (runner: CommandRunner): LockMeans => packagedLockMeans(import.meta.dirname, runner);

export async function namespaceHostFacts(netns: string): Promise<HostFacts> {
  await checkNetnsPath(netns);
  return netnsHostFacts(localHostFacts, netnsRunner(plainRunner, netns));
}

export async function applyForReal(plan: CapturePlan, parsed: ParsedConfig, logger: Logger): Promise<void> {
  const { options } = parsed;
  const runner = runnerFor(logger);
  const log = lineLogger(logger);
  if (options.networkNamespace) await checkNetnsPath(options.networkNamespace);
  if (options.skipRuleApply) log('--skip-rule-apply: no rules applied');
  else await applyExclusively(plan, options, log, lockMeans(runner));
  await validateIfAsked(parsed, runner, log);
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
    const { applyNftablesExclusively } = await import('../exec/nft/exclusive.js');
    await applyNftablesExclusively(plan, config, options, log, lockMeans(plainRunner));
  }
  await validateIfAsked(parsed, plainRunner, log);
}

async function validateIfAsked(
  { options, config }: ParsedConfig,
  runner: CommandRunner,
  log: (line: string) => void,
): Promise<void> {
  if (!options.runValidation) return;
  await runValidation(
    netnsRunner(runner, options.networkNamespace),
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
