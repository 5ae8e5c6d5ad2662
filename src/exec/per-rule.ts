/**
 * `--restore-format=false`: writing a plan's rules as one iptables command per chain and rule,
 * as Istio 1.20 did, instead of one iptables-restore. Upstream stops at the first failing
 * command and leaves the rest as they are; here a failure throws, and the caller (apply.ts's
 * transaction) puts every table the commands touched back to the state read before the run,
 * exactly as after a failed restore.
 */
import { CommandFailedError } from '../errors.js';
import type { Ruleset } from '../model/netfilter.js';
import { perRuleCommands } from '../render/restore.js';
import { type Backend, XTABLES_RESOURCE_PROBLEM } from './backend.js';
import { type CommandRunner, notPrivileged } from './command.js';
import { retry, type RetryPolicy } from './retry.js';

/**
 * Runs `-t TABLE -N CHAIN` for each chain, then each rule, through the backend's binary (with
 * its lock wait and lock file), in order.
 * @throws CommandFailedError naming the first command that failed, and how many ran before it.
 */
export async function applyPerRule(
  runner: CommandRunner,
  backend: Backend,
  ruleset: Ruleset,
  policy: RetryPolicy,
): Promise<void> {
  const commands = perRuleCommands(ruleset);
  for (const [index, args] of commands.entries()) {
    const command = { file: backend.binary, args: [...args, ...backend.writeSuffix], env: backend.env };
    const result = await retry(
      () => runner.run(command),
      (r) => backend.variant === 'legacy' && r.exitCode === XTABLES_RESOURCE_PROBLEM,
      policy,
    );
    if (result.exitCode === 0) continue;
    const denied = notPrivileged(result.stderr);
    if (denied) throw denied;
    const failed = [command.file, ...command.args];
    throw new CommandFailedError(failed, result.exitCode, result.stderr, {
      message: `${backend.family}: command ${index + 1} of ${commands.length} failed (exit ${result.exitCode}): \`${failed.join(' ')}\`${result.stderr.trim() ? `: ${result.stderr.trim()}` : ''}`,
    });
  }
}
