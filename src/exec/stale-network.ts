/**
 * Removing the policy routing of an earlier TPROXY configuration that the plan does not keep
 * (state/stale-routes.ts decides what is ours). Runs only when live rules of ours carry a
 * TPROXY mark, so a REDIRECT re-run costs no process.
 */
import { CommandFailedError } from '../errors.js';
import type { IpFamily } from '../model/family.js';
import type { NetworkStep } from '../plan/routes.js';
import { ipArgs } from '../render/ip.js';
import { parseFwmarkRules } from '../state/ip-rule.js';
import { staleRuleCandidates, staleTproxySteps } from '../state/stale-routes.js';
import { type CommandRunner, notPrivileged } from './command.js';
import { applyNetwork, removeNetwork } from './network.js';

async function ip(runner: CommandRunner, args: readonly string[]): Promise<string> {
  const result = await runner.run({ file: 'ip', args });
  // A table that was never used does not exist: it holds nothing.
  if (result.exitCode !== 0 && /table does not exist/i.test(result.stderr)) return '';
  if (result.exitCode !== 0)
    throw notPrivileged(result.stderr) ?? new CommandFailedError(['ip', ...args], result.exitCode, result.stderr);
  return result.stdout;
}

/** The steps that would remove an earlier configuration's policy rules and routes, per family. */
export async function staleNetwork(
  runner: CommandRunner,
  families: readonly IpFamily[],
  marks: readonly number[],
  planned: readonly NetworkStep[],
): Promise<NetworkStep[]> {
  if (marks.length === 0) return [];
  const steps: NetworkStep[] = [];
  for (const family of families) {
    const six = family === 'ipv6' ? ['-6'] : [];
    const listing = await ip(runner, [...six, 'rule', 'show']);
    const candidates = staleRuleCandidates(family, parseFwmarkRules(listing), marks, planned);
    const routes = new Map<number, string[]>();
    for (const { table } of candidates)
      if (!routes.has(table))
        routes.set(table, (await ip(runner, [...six, 'route', 'show', 'table', String(table)])).split('\n'));
    steps.push(...staleTproxySteps(family, listing, candidates, routes, planned));
  }
  return steps;
}

/** The command that removes `step`: `ip rule del fwmark 1337 lookup 133`. */
export const describeRemoval = (step: NetworkStep) =>
  `ip ${ipArgs(step)
    .map((arg) => (arg === 'add' ? 'del' : arg))
    .join(' ')}`;

/**
 * Runs `change` (the rules' transaction) with the stale routing removed first: a run killed in
 * between then leaves the earlier rules, whose marks the next run still recognises, never
 * routing that nothing points to any more. When a step cannot be removed, or `change` fails
 * (its rollback puts the rules back), the routing removed is put back too.
 */
export async function withoutStaleNetwork<T>(
  runner: CommandRunner,
  stale: readonly NetworkStep[],
  log: (line: string) => void,
  change: () => Promise<T>,
): Promise<T> {
  if (stale.length === 0) return change();
  const putBack = () => applyNetwork(runner, stale).catch(() => undefined);
  const problems = await removeNetwork(runner, stale);
  if (problems.length > 0) {
    await putBack();
    throw new CommandFailedError(['ip'], undefined, problems.join('; '), {
      message: `removing an earlier configuration's policy routing failed (put back as it was): ${problems.join('; ')}`,
    });
  }
  log(`an earlier configuration's routing removed: ${stale.map(describeRemoval).join('; ')}`);
  try {
    return await change();
  } catch (error) {
    await putBack();
    throw error;
  }
}
