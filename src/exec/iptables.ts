/**
 * Running iptables' restore and save for one backend: the retry on legacy's lock and the
 * mapping of a failure to a typed error, in one place for every path of a run.
 */
import { CommandFailedError, isIptablesError, RestoreFailedError, UnreadableStateError } from '../errors.js';
import type { Ruleset } from '../model/netfilter.js';
import type { CanonicalOptions } from '../state/canonical.js';
import { firstTableEnd, parseSaveTables } from '../state/save-parser.js';
import { type Backend, XTABLES_RESOURCE_PROBLEM } from './backend.js';
import { type CommandResult, type CommandRunner, notPrivileged } from './command.js';
import { applyPerRule } from './per-rule.js';
import { readSave } from './read-save.js';
import { type RetryPolicy, retry } from './retry.js';

/** What a legacy exit 4 was about: the lock held by another program, or its file unusable. */
function lockProblem(result: CommandResult): 'held' | 'unopenable' | undefined {
  if (result.exitCode !== XTABLES_RESOURCE_PROBLEM) return undefined;
  if (/holding the xtables lock|Stopped waiting/i.test(result.stderr)) return 'held';
  if (/can't open lock file|lock file/i.test(result.stderr)) return 'unopenable';
  return undefined;
}

const LOCK_WHY = {
  held: 'Another program held the xtables lock for the whole wait (kube-proxy, a CNI plugin or another agent); nothing was changed.',
  unopenable:
    'Legacy iptables could not open its lock file (in /run, or XTABLES_LOCKFILE): a read-only or full /run, or a user that may not write there. Make /run writable (an emptyDir), run as root, or use the nft backend; nothing was changed.',
} as const;

/** Whether a restore failed in its first table, which commits as one: then nothing was committed. */
function failedInFirstTable(stderr: string, payload: string): boolean {
  const match = /line (\d+)(?: failed|: )|Error occurred at line: (\d+)/.exec(stderr);
  const end = firstTableEnd(payload);
  return match !== null && end !== undefined && Number(match[1] ?? match[2]) <= end;
}

/** `iptables-restore` / `iptables-save` of a backend, through one runner. */
export class Iptables {
  constructor(
    private readonly runner: CommandRunner,
    private readonly retryPolicy: Omit<RetryPolicy, 'onRetry'>,
    private readonly log: (line: string) => void,
  ) {}

  /** Restores `payload`; `noflush` adds to the tables, otherwise each table named is replaced. */
  async restore(backend: Backend, payload: string, noflush: boolean): Promise<void> {
    const command = {
      file: `${backend.binary}-restore`,
      args: [...(noflush ? ['--noflush'] : []), ...backend.writeSuffix],
      input: payload,
      env: backend.env,
    };
    // With --wait, iptables has waited for the lock itself (the whole timeout when it says
    // "Stopped waiting"): another wait would only multiply it. Only a held lock is waited for.
    const result = await retry(
      () => this.runner.run(command),
      (r) => backend.variant === 'legacy' && backend.writeSuffix.length === 0 && lockProblem(r) === 'held',
      {
        ...this.retryPolicy,
        onRetry: (attempt, delayMs) =>
          this.log(
            `${backend.family}: the xtables lock is held by another program, attempt ${attempt} failed; waiting ${delayMs} ms`,
          ),
      },
    );
    if (result.exitCode === 0) return;
    const lock = backend.variant === 'legacy' ? lockProblem(result) : undefined;
    const denied = lock === 'unopenable' ? undefined : notPrivileged(result.stderr);
    if (denied) throw denied;
    const error = new RestoreFailedError(
      backend.family,
      [command.file, ...command.args],
      result.exitCode,
      result.stderr,
      payload,
      {
        changedNothing: lock !== undefined || failedInFirstTable(result.stderr, payload),
        ...(lock ? { why: LOCK_WHY[lock] } : {}),
      },
    );
    const table = /unable to initialize table '(\w+)'|can't initialize \S+ table `(\w+)'/.exec(result.stderr);
    const name = table?.[1] ?? table?.[2];
    if (name && backend.variant === 'legacy')
      error.otherBackendWorks = await this.opens(`${backend.binary.replace(/-legacy$/, '')}-nft`, name);
    throw error;
  }

  /** Whether `BINARY-save -t TABLE` works: the other backend can use the table. */
  private async opens(binary: string, table: string): Promise<boolean> {
    const result = await this.runner.run({ file: `${binary}-save`, args: ['-t', table] }).catch(() => undefined);
    return result?.exitCode === 0;
  }

  /** `--restore-format=false`: the ruleset as one iptables command per chain and rule (per-rule.ts). */
  perRule(backend: Backend, ruleset: Ruleset): Promise<void> {
    return applyPerRule(this.runner, backend, ruleset, this.retryPolicy);
  }

  /** The backend's `-save` output: the live state of every table. */
  async save(backend: Backend): Promise<string> {
    const result = await readSave(this.runner, backend.binary);
    if (result.exitCode !== 0)
      throw (
        notPrivileged(result.stderr) ??
        new CommandFailedError([`${backend.binary}-save`], result.exitCode, result.stderr)
      );
    return result.stdout;
  }
}

/**
 * A backend's save text as tables, or an UnreadableStateError naming the family and the
 * program when any of it cannot be read (see parseSaveTables).
 */
export function parseLive(text: string, backend: Pick<Backend, 'family' | 'binary'>, canonical?: CanonicalOptions) {
  try {
    return parseSaveTables(text, canonical);
  } catch (error) {
    if (!(isIptablesError(error) && error.code === 'STATE_UNREADABLE')) throw error;
    const { table, line } = error as UnreadableStateError;
    throw new UnreadableStateError({
      ...(table === undefined ? {} : { table }),
      line,
      family: backend.family,
      binary: `${backend.binary}-save`,
    });
  }
}
