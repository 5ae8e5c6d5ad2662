/**
 * Running iptables' restore and save for one backend: the retry on legacy's lock and the
 * mapping of a failure to a typed error, in one place for every path of a run.
 */
import { CommandFailedError, RestoreFailedError } from '../errors.js';
import type { Backend } from './backend.js';
import { type CommandRunner, notPrivileged } from './command.js';
import { type RetryPolicy, retry } from './retry.js';

/**
 * iptables' exit code for a resource problem, such as the xtables lock being held. Only legacy
 * has that lock; iptables-nft exits 4 when the kernel refuses a commit, which no retry mends.
 */
const XTABLES_RESOURCE_PROBLEM = 4;

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
    const result = await retry(
      () => this.runner.run(command),
      // With --wait, iptables has waited for the lock itself: another wait would only double it.
      (r) =>
        backend.variant === 'legacy' && backend.writeSuffix.length === 0 && r.exitCode === XTABLES_RESOURCE_PROBLEM,
      {
        ...this.retryPolicy,
        onRetry: (attempt, delayMs) =>
          this.log(
            `${backend.family}: iptables is busy (xtables lock held?), attempt ${attempt} failed; waiting ${delayMs} ms`,
          ),
      },
    );
    if (result.exitCode === 0) return;
    throw (
      notPrivileged(result.stderr) ??
      new RestoreFailedError(backend.family, [command.file, ...command.args], result.exitCode, result.stderr, payload)
    );
  }

  /** The backend's `-save` output: the live state of every table. */
  async save(backend: Backend): Promise<string> {
    const command = { file: `${backend.binary}-save`, args: [] };
    const result = await this.runner.run(command);
    if (result.exitCode !== 0) throw new CommandFailedError([command.file], result.exitCode, result.stderr);
    return result.stdout;
  }
}
