/**
 * The careful way's transaction: restore the families' payloads in order, check them, and on
 * any failure put every family already touched back to the state read before the run.
 */
import { isIptablesError, type RestoreFailedError, VerifyError } from '../errors.js';
import { isBuiltinChain } from '../model/chains.js';
import type { Ruleset, TableName } from '../model/netfilter.js';
import { type Payload, renderRollback } from '../render/transactions.js';
import type { CanonicalOptions } from '../state/canonical.js';
import { compareState, type ExpectedState } from '../state/compare.js';
import { shadowingRules } from '../state/shadowing.js';
import { type NetfilterState, type ParsedTable, stateOf } from '../state/save-parser.js';
import type { Backend } from './backend.js';
import { type Iptables, parseLive } from './iptables.js';

/** One family of a careful run: what was read before it, and what the plan expects. */
export interface FamilyRun {
  readonly ruleset: Ruleset;
  readonly backend: Backend;
  /** The tables read before the run: what a rollback restores. */
  readonly before: readonly ParsedTable[];
  readonly live: NetfilterState;
  readonly expected: ExpectedState;
}

/** A family a transaction restored a payload into, with the tables the payload named. */
export interface Applied {
  readonly run: FamilyRun;
  readonly tables: readonly TableName[];
}

/** Like Promise.all, but when several fail, the first in order (not in time) is thrown. */
export async function inOrder<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<T>).value);
}

/**
 * Carries what went wrong while undoing onto the error that made the run undo (as data, for
 * the CLI to print), and returns that error.
 */
export function withRollbackProblems(error: unknown, problems: readonly string[]): unknown {
  if (problems.length > 0 && isIptablesError(error)) error.rollbackProblems = [...error.rollbackProblems, ...problems];
  return error;
}

/** A table's chains and rules, comparable as text; built-in chains without rules left out (an empty table is no change). */
function tableText(state: NetfilterState, table: TableName): string {
  return [...(state.get(table) ?? [])]
    .filter(([chain, rules]) => rules.length > 0 || !isBuiltinChain(chain))
    .map(([chain, rules]) => [chain, ...rules.map((rule) => rule.key)].join('\n'))
    .join('\n\n');
}

async function rollback(applied: readonly Applied[], iptables: Iptables, log: (line: string) => void) {
  const problems: string[] = [];
  for (const { run, tables } of [...applied].reverse()) {
    try {
      // A restore that failed before changing anything (legacy's lock not taken, or a read-only
      // /run where it lives) needs no rollback, which would only repeat its failure and wait.
      const now = await iptables.save(run.backend).then(
        (text) => stateOf(parseLive(text, run.backend)),
        () => undefined,
      );
      if (now && tables.every((table) => tableText(now, table) === tableText(run.live, table))) {
        log(`${run.ruleset.family}: unchanged, nothing to roll back`);
        continue;
      }
      await iptables.restore(run.backend, renderRollback(run.before, tables), false);
      log(`${run.ruleset.family}: rolled back to the state before this run`);
    } catch (error) {
      problems.push(`${run.ruleset.family} rollback failed: ${(error as Error).message}`);
    }
  }
  return problems;
}

/** Runs the payloads family by family, then `after`; on any failure restores what was changed. */
export async function transact(
  work: readonly { run: FamilyRun; payload: Payload }[],
  iptables: Iptables,
  log: (line: string) => void,
  after: (applied: readonly Applied[]) => Promise<void>,
): Promise<void> {
  const applied: Applied[] = [];
  try {
    for (const { run, payload } of work) {
      // Recorded before the attempt: a failed legacy restore may have committed some tables.
      applied.push({ run, tables: payload.tables });
      try {
        await iptables.restore(run.backend, payload.text, true);
      } catch (error) {
        // A restore that cannot have committed anything is not rolled back (which would only
        // wait on the same lock again, or fail the same way).
        if (isIptablesError(error) && (error as Partial<RestoreFailedError>).changedNothing) {
          applied.pop();
          log(`${run.ruleset.family}: unchanged, nothing to roll back`);
        }
        throw error;
      }
    }
    await after(applied);
  } catch (error) {
    throw withRollbackProblems(error, await rollback(applied, iptables, log));
  }
}

/** Reads a family back and throws a VerifyError unless the live rules are the plan. */
export async function verify(
  run: FamilyRun,
  iptables: Iptables,
  log: (line: string) => void,
  canonical?: CanonicalOptions,
): Promise<void> {
  const live = stateOf(parseLive(await iptables.save(run.backend), run.backend, canonical));
  const verdict = compareState(run.expected, live);
  if (verdict.status === 'drift') throw new VerifyError(run.ruleset.family, verdict.differences);
  if (verdict.status === 'clean') throw new VerifyError(run.ruleset.family, ['none of the planned rules is live']);
  warnShadowing(run.ruleset.family, live, log);
}

/** Warns of foreign rules that end a chain before our jump (their traffic is never captured). */
export function warnShadowing(family: string, live: NetfilterState, log: (line: string) => void): void {
  for (const rule of shadowingRules(live))
    log(
      `warning: ${family} ${rule}: comes before our jump and ends the chain, so the traffic it matches bypasses the proxy`,
    );
}
