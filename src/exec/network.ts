/**
 * The `ip` half of a run, made idempotent (upstream adds its policy rule again on every
 * run): an address or route that exists is left alone, and a policy rule is added only when
 * `ip rule show` does not list it. What a run adds is returned, so it can be undone.
 */
import { CommandFailedError, ConflictError } from '../errors.js';
import type { NetworkStep } from '../plan/routes.js';
import { ipArgs } from '../render/ip.js';
import { parseFwmarkRules } from '../state/ip-rule.js';
import { type Command, type CommandRunner, notPrivileged } from './command.js';

const EXISTS = /File exists|already assigned/i;
const GONE = /No such process|Cannot assign requested address|No such file or directory|not found/i;

function ipCommand(args: readonly string[]): Command {
  return { file: 'ip', args };
}

function failed(command: Command, exitCode: number, stderr: string): Error {
  return notPrivileged(stderr) ?? new CommandFailedError([command.file, ...command.args], exitCode, stderr);
}

/** `ip rule show` prints the mark in hex: `from all fwmark 0x539 lookup 133`. */
function ruleListed(listing: string, mark: number, table: number): number {
  const pattern = new RegExp(`fwmark 0x${mark.toString(16)} lookup ${table}\\b`);
  return listing.split('\n').filter((line) => pattern.test(line)).length;
}

function deleteArgs(step: NetworkStep): string[] {
  return ipArgs(step).map((arg) => (arg === 'add' ? 'del' : arg));
}

async function ruleListing(runner: CommandRunner, step: NetworkStep): Promise<string> {
  const command = ipCommand([...(step.family === 'ipv6' ? ['-6'] : []), 'rule', 'show']);
  const result = await runner.run(command);
  if (result.exitCode !== 0) throw failed(command, result.exitCode, result.stderr);
  return result.stdout;
}

/**
 * Applies the steps; returns the ones it actually added (in order), for rollback. On a
 * failure it first removes what it had added, so it never leaves half of its steps behind.
 */
export async function applyNetwork(runner: CommandRunner, steps: readonly NetworkStep[]): Promise<NetworkStep[]> {
  const added: NetworkStep[] = [];
  try {
    for (const step of steps) {
      if (step.kind === 'policyRule' && ruleListed(await ruleListing(runner, step), step.mark, step.table) > 0)
        continue;
      const command = ipCommand(ipArgs(step));
      const result = await runner.run(command);
      if (result.exitCode === 0) added.push(step);
      else if (!(step.kind !== 'policyRule' && EXISTS.test(result.stderr)))
        throw failed(command, result.exitCode, result.stderr);
    }
  } catch (error) {
    // Also when a command could not run at all (or a signal stopped the run), not only when one failed.
    await removeNetwork(runner, added);
    throw error;
  }
  return added;
}

/**
 * Removes the steps' effects where present (cleanup, rollback). Every copy of a policy rule
 * goes, including the duplicates upstream's re-runs leave behind. Returns the problems met.
 */
export async function removeNetwork(runner: CommandRunner, steps: readonly NetworkStep[]): Promise<string[]> {
  const problems: string[] = [];
  for (const step of [...steps].reverse()) {
    const copies = step.kind === 'policyRule' ? ruleListed(await ruleListing(runner, step), step.mark, step.table) : 1;
    for (let i = 0; i < copies; i++) {
      const command = ipCommand(deleteArgs(step));
      const result = await runner.run(command);
      if (result.exitCode !== 0 && !GONE.test(result.stderr))
        problems.push(`\`ip ${command.args.join(' ')}\`: ${result.stderr.trim()}`);
    }
  }
  return problems;
}

/** The one route the plan puts in its table, as `ip route show table N` prints it. */
const OUR_ROUTE = /^local default dev lo( |$)/;

async function listing(runner: CommandRunner, args: readonly string[]): Promise<string[]> {
  const command = ipCommand(args);
  const result = await runner.run(command);
  // A table that was never used does not exist yet: it holds nothing.
  if (result.exitCode !== 0 && /table does not exist/i.test(result.stderr)) return [];
  if (result.exitCode !== 0) throw failed(command, result.exitCode, result.stderr);
  return result.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/**
 * Before anything is written: the TPROXY route table and fwmark rule are ours only when they
 * hold exactly what the plan puts there. A route table holding any other route, or a policy
 * rule that sends the mark elsewhere or the table other traffic, is another user's: applying
 * beside it would leave a return path that does not work (a ConflictError, nothing changed).
 * The `stale` policy rules, an earlier configuration's that the run removes (stale-network.ts),
 * are no conflict.
 */
export async function checkNetwork(
  runner: CommandRunner,
  steps: readonly NetworkStep[],
  stale: readonly NetworkStep[] = [],
): Promise<void> {
  const removed = (family: NetworkStep['family'], line: string) => {
    const [rule] = parseFwmarkRules(line);
    return (
      rule?.plain === true &&
      stale.some(
        (s) => s.kind === 'policyRule' && s.family === family && s.mark === rule.mark && s.table === rule.table,
      )
    );
  };
  for (const step of steps) {
    const family = step.family === 'ipv6' ? ['-6'] : [];
    if (step.kind === 'localRoute') {
      const foreign = (await listing(runner, [...family, 'route', 'show', 'table', String(step.table)])).filter(
        (line) => !OUR_ROUTE.test(line),
      );
      if (foreign.length > 0)
        throw new ConflictError(
          'route-table',
          `${step.family}: route table ${step.table} already holds routes this tool does not put there; TPROXY's return path needs it to hold only \`local default dev lo\`. Nothing was changed. Found:`,
          foreign,
        );
    } else if (step.kind === 'policyRule') {
      const mark = `fwmark 0x${step.mark.toString(16)}`;
      const ours = new RegExp(`^\\d+:\\s+from all ${mark} lookup ${step.table}$`);
      const uses = new RegExp(`(${mark}(/| |$)|lookup ${step.table}$)`);
      const foreign = (await listing(runner, [...family, 'rule', 'show'])).filter(
        (line) => uses.test(line) && !ours.test(line) && !removed(step.family, line),
      );
      if (foreign.length > 0)
        throw new ConflictError(
          'fwmark',
          `${step.family}: policy rules already use mark ${step.mark} or route table ${step.table} for something else. Nothing was changed. Found:`,
          foreign,
        );
    }
  }
}
