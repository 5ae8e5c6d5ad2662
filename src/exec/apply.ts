/**
 * Applying a plan for real, all or nothing. A first run into a namespace with none of our
 * rules, the usual case, restores first and reads once, after (first-run.ts). Otherwise, the
 * careful way:
 * 1. per family, detect the backend; the state read that decides is also the live state;
 * 2. compare it with the plan: clean → upstream's payload; already applied → nothing (unless
 *    `forceApply`); drifted → one restore transaction that replaces what is ours (when
 *    `reconcile`), or a DriftError that changes nothing;
 * 3. apply the families in order; if one fails, restore the ones already applied to the
 *    state read in step 1 (transaction.ts);
 * 4. read each applied family back and compare with the plan; a difference rolls back too;
 * 5. add the ip rules/routes and ::6 that are missing. An earlier TPROXY configuration's ip
 *    rules/routes the plan does not keep are removed before step 3 (stale-network.ts).
 * Before any write: the TPROXY routes (network.ts; after the state read, which tells an earlier
 * configuration's routing from another user's), a copy of ours in the other backend or the
 * native-nftables mode's tables (copies.ts) stop the run, or are removed with `migrate`.
 * Longer than ~200 lines because the run's order (checks, both paths, apply, cleanup) reads
 * best in one place; what each step does lives in the files named.
 */
import { ConflictError, DriftError } from '../errors.js';
import type { IpFamily } from '../model/family.js';
import type { Ruleset } from '../model/netfilter.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import { renderRestore, restoreTables } from '../render/restore.js';
import type { CanonicalOptions } from '../state/canonical.js';
import { compareState, expectedState, hasOwnedState } from '../state/compare.js';
import { liveTproxyMarks } from '../state/ours.js';
import { stateOf } from '../state/save-parser.js';
import { replacePayload } from '../state/transactions.js';
import { type DetectOptions, detectBackend, removeLockFile, type Variant } from './backend.js';
import type { CommandRunner } from './command.js';
import { applyFirstRun } from './first-run.js';
import { Iptables, parseLive } from './iptables.js';
import { netnsRunner } from './netns.js';
import { applyNetwork, checkNetwork, removeNetwork } from './network.js';
import { staleNetwork, withoutStaleNetwork } from './stale-network.js';
import { deleteNativeNftTables } from './nft-tables.js';
import type { RetryPolicy } from './retry.js';
import { type FamilyRun, inOrder, transact, verify, warnShadowing } from './transaction.js';
import { describeCopy, nativeTablesToRemove, removeCopies, verifyRemoved } from './copies.js';

/** What the executor needs to know about a run: where, with which backend, and what it may do. */
export interface ApplyOptions {
  /** The iptables backend: upstream's choice per family (`auto`), or the one given. */
  readonly iptables: 'auto' | Variant;
  /** The network namespace to work in (a path); absent: this process's own. */
  readonly networkNamespace?: string;
  /** Remove what the plan would create instead of applying it. */
  readonly cleanupOnly: boolean;
  /** Whether rules of ours that differ from the plan may be replaced; if not, a DriftError. */
  readonly reconcile: boolean;
  /** Replace rules of ours even when they match the plan. */
  readonly forceApply: boolean;
  /**
   * false (`--restore-format=false`): a clean namespace gets one iptables command per chain and
   * rule (per-rule.ts) instead of a restore; the rest of the run is the same. Default true.
   */
  readonly restoreFormat?: boolean;
  /**
   * Remove a copy of our rules found in the other backend in the same run; without it such a
   * copy stops the run (a ConflictError) before anything is written. A cleanup removes every copy.
   */
  readonly migrate?: boolean;
  /** Seconds legacy iptables waits for its xtables lock (`--wait=N`); upstream's 30 when absent. */
  readonly lockWaitSeconds?: number;
}

export interface ApplyDeps {
  readonly runner: CommandRunner;
  readonly log: (line: string) => void;
  readonly retry: Omit<RetryPolicy, 'onRetry'>;
  readonly canonical?: CanonicalOptions;
  /** Whether legacy iptables has tables in the namespace, when known without a process (see DetectOptions). */
  readonly legacyTables?: (family: IpFamily) => boolean | undefined;
  /**
   * Lists the native-nftables mode's live tables in the namespace `runner` works in (see
   * exec/nft-tables.ts); absent where nothing could have written them (no `nft`, no helper).
   */
  readonly nativeNftTables?: (runner: CommandRunner) => Promise<string[]>;
}

/** What a run did, per family, for logs and tests. */
export interface ApplyReport {
  readonly families: readonly {
    readonly family: IpFamily;
    readonly variant: Variant;
    readonly action: 'applied' | 'reconciled' | 'unchanged' | 'cleaned';
  }[];
}

function detectOptions(family: IpFamily, options: ApplyOptions, deps: ApplyDeps): DetectOptions {
  const legacyTables = deps.legacyTables?.(family);
  return {
    forced: options.iptables,
    ...(options.networkNamespace ? { netnsPath: options.networkNamespace } : {}),
    ...(options.lockWaitSeconds === undefined ? {} : { lockWaitSeconds: options.lockWaitSeconds }),
    ...(legacyTables === undefined ? {} : { legacyTables }),
  };
}

export async function applyCapture(plan: CapturePlan, options: ApplyOptions, deps: ApplyDeps): Promise<ApplyReport> {
  const runner = netnsRunner(deps.runner, options.networkNamespace);
  const iptables = new Iptables(runner, deps.retry, deps.log);
  const nftTables = deps.nativeNftTables
    ? nativeTablesToRemove(await deps.nativeNftTables(runner), options.cleanupOnly || !!options.migrate)
    : [];
  try {
    const report = await applyIptables(plan, options, deps, runner, iptables);
    if (nftTables.length > 0) {
      await deleteNativeNftTables(runner, nftTables);
      deps.log(`removed the native-nftables mode's tables: ${nftTables.join(', ')}`);
    }
    return report;
  } finally {
    if (options.networkNamespace) removeLockFile(options.networkNamespace);
  }
}

async function applyIptables(
  plan: CapturePlan,
  options: ApplyOptions,
  deps: ApplyDeps,
  runner: CommandRunner,
  iptables: Iptables,
): Promise<ApplyReport> {
  // TPROXY's routing is checked after the state read (apply, below), so a plan with it goes the
  // careful way (it does anyway: TPROXY writes two tables). So does --restore-format=false:
  // restoring first relies on a restore being one transaction.
  const firstRun = plan.network.every((step) => step.kind === 'loopbackAddress') && options.restoreFormat !== false;
  if (!options.cleanupOnly && firstRun) {
    const applied = await applyFirstRun(plan, {
      runner,
      iptables,
      log: deps.log,
      ...(deps.canonical ? { canonical: deps.canonical } : {}),
      detectOptions: (ruleset: Ruleset) => detectOptions(ruleset.family, options, deps),
    });
    if (applied)
      return {
        families: applied.map(({ family }) => ({ family, variant: 'nft' as const, action: 'applied' as const })),
      };
  }
  // The families' state reads are independent and change nothing: a runner may run them at
  // once (the CLI's runs its commands one at a time, see process-runner.ts).
  const read: { run: FamilyRun; copy?: FamilyRun }[] = await inOrder(
    plan.rulesets.map(async (ruleset) => {
      const detecting = detectBackend(runner, ruleset.family, detectOptions(ruleset.family, options, deps));
      const expected = expectedState(ruleset, deps.canonical);
      const { backend, state, other } = await detecting;
      const before = parseLive(state, backend, deps.canonical);
      const run: FamilyRun = { ruleset, backend, before, live: stateOf(before), expected };
      if (!other) return { run };
      const otherBefore = parseLive(other.state, other.backend, deps.canonical);
      const copy: FamilyRun = { ...run, backend: other.backend, before: otherBefore, live: stateOf(otherBefore) };
      return hasOwnedState(copy.live) ? { run, copy } : { run };
    }),
  );
  const runs = read.map(({ run }) => run);
  const copies = read.flatMap(({ copy }) => (copy ? [copy] : []));
  if (copies.length > 0 && !options.cleanupOnly && !options.migrate)
    throw new ConflictError(
      'other-copy',
      'rules of ours are live in the other iptables backend too: both copies would capture traffic, and the old one would keep a configuration this run replaces. Nothing was changed. Found:',
      copies.map(describeCopy),
    );
  return options.cleanupOnly
    ? cleanup(runs, copies, plan, iptables, runner, deps)
    : apply(runs, copies, plan, options, iptables, runner, deps);
}

const families = (runs: readonly FamilyRun[]) => runs.map((run) => run.ruleset.family);
/** The TPROXY marks rules of ours carried before the run: how an earlier run's routing is known. */
const marksOf = (runs: readonly FamilyRun[]) => [...new Set(runs.flatMap((run) => liveTproxyMarks(run.live)))];

async function apply(
  runs: readonly FamilyRun[],
  copies: readonly FamilyRun[],
  plan: CapturePlan,
  options: ApplyOptions,
  iptables: Iptables,
  runner: CommandRunner,
  deps: ApplyDeps,
): Promise<ApplyReport> {
  const work: Parameters<typeof transact>[0][number][] = [];
  const report: ApplyReport['families'][number][] = [];
  for (const run of runs) {
    const { family } = run.ruleset;
    const { variant } = run.backend;
    const verdict = compareState(run.expected, run.live);
    const label = `${family} (${variant})`;
    if (verdict.status === 'clean') {
      const perRule = options.restoreFormat === false;
      deps.log(
        `${label}: no rules of ours yet; applying ${run.ruleset.ops.length} rules${perRule ? ', one iptables command each (--restore-format=false)' : ''}`,
      );
      const payload = { text: renderRestore(run.ruleset), tables: restoreTables(run.ruleset) };
      work.push({ run, payload, ...(perRule ? { perRule } : {}) });
      report.push({ family, variant, action: 'applied' });
    } else if (verdict.status === 'match' && !options.forceApply) {
      deps.log(`${label}: the live rules already match the plan; nothing to do`);
      warnShadowing(family, run.live, deps.log);
      report.push({ family, variant, action: 'unchanged' });
    } else {
      if (verdict.status === 'drift' && !options.reconcile) throw new DriftError(family, variant, verdict.differences);
      const why =
        verdict.status === 'drift'
          ? `the live rules differ from the plan:\n  ${verdict.differences.join('\n  ')}`
          : 'the live rules match, but applying them again was asked for';
      deps.log(`${label}: ${why}\n  replacing them in one transaction`);
      work.push({ run, payload: replacePayload(run.ruleset, run.live, run.expected) });
      report.push({ family, variant, action: 'reconciled' });
    }
  }
  for (const copy of copies)
    deps.log(
      `${copy.ruleset.family} (${copy.backend.variant}): removing the other copy of our rules in the same transaction`,
    );
  work.push(...removeCopies(copies));
  // An earlier TPROXY configuration's policy routing the plan does not keep is no conflict: it
  // goes first. The plan's table and mark, before the first write.
  const stale = await staleNetwork(runner, families(runs), marksOf([...runs, ...copies]), plan.network);
  await checkNetwork(runner, plan.network, stale);
  await withoutStaleNetwork(runner, stale, deps.log, () =>
    transact(work, iptables, deps.log, async (applied) => {
      await inOrder(
        applied.map(({ run }) =>
          copies.includes(run)
            ? verifyRemoved(run, iptables, deps.canonical)
            : verify(run, iptables, deps.log, deps.canonical),
        ),
      );
      const added = await applyNetwork(runner, plan.network);
      if (added.length > 0) deps.log(`added: ${added.map((s) => s.kind).join(', ')}`);
    }),
  );
  return { families: report };
}

async function cleanup(
  runs: readonly FamilyRun[],
  copies: readonly FamilyRun[],
  plan: CapturePlan,
  iptables: Iptables,
  runner: CommandRunner,
  deps: ApplyDeps,
): Promise<ApplyReport> {
  const work = [...removeCopies(runs), ...removeCopies(copies)].filter((w) => w.payload.text !== '');
  // Every policy rule of a mark of ours (this configuration's or an earlier one's) goes first.
  const stale = await staleNetwork(runner, families(runs), marksOf([...runs, ...copies]), []);
  await withoutStaleNetwork(runner, stale, deps.log, () =>
    transact(work, iptables, deps.log, async (applied) => {
      for (const { run } of applied) await verifyRemoved(run, iptables, deps.canonical);
    }),
  );
  for (const copy of copies)
    deps.log(`${copy.ruleset.family} (${copy.backend.variant}): removed the other copy of our chains and rules`);
  const problems = await removeNetwork(runner, plan.network);
  for (const problem of problems) deps.log(`warning: ${problem}`);
  for (const run of runs)
    deps.log(
      `${run.ruleset.family} (${run.backend.variant}): ${work.some((w) => w.run === run) ? 'removed our chains and rules' : 'nothing of ours was live'}`,
    );
  return {
    families: runs.map((run) => ({ family: run.ruleset.family, variant: run.backend.variant, action: 'cleaned' })),
  };
}
