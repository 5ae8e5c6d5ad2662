/**
 * Running `nft`: list the ruleset, apply a transaction. Transactions go through
 * stdin (`nft -f -`), never a file, and nft applies a `-f` batch atomically: all or nothing.
 */
import { CommandFailedError, IptablesError, isCommandFailedError } from '../../errors.js';
import { notPrivileged, type Command, type CommandResult, type CommandRunner } from '../command.js';

/** `nft` is not installed where the run looks for it. */
export class NftMissingError extends IptablesError {
  override name = 'NftMissingError';
  constructor(detail: string) {
    super(
      'BINARY_NOT_FOUND',
      `--native-nftables needs the nft binary, which is not installed (Debian and Ubuntu: apt-get install nftables). ${detail}`.trim(),
    );
  }
}

/** nft refused a transaction; its stderr names the line and marks the place (`^^^`). */
export class NftFailedError extends CommandFailedError {
  override name = 'NftFailedError';
  constructor(command: readonly string[], exitCode: number, stderr: string, what: string) {
    super(command, exitCode, stderr, { message: `nftables ${what} failed: ${stderr.trim() || `exit ${exitCode}`}` });
  }
}

/** nsenter's exit code when it cannot start the program. */
const NOT_STARTED = 127;

export class Nft {
  constructor(private readonly runner: CommandRunner) {}

  private async run(command: Command, what: string): Promise<CommandResult> {
    let result: CommandResult;
    try {
      result = await this.runner.run(command);
    } catch (error) {
      // By brand, not instanceof: the runner may come from another bundle file (scripts/bundle.mjs).
      if (isCommandFailedError(error) && /no such program/.test(error.message))
        throw new NftMissingError(error.message);
      throw error;
    }
    if (result.exitCode === 0) return result;
    if (result.exitCode === NOT_STARTED && /execute nft/.test(result.stderr))
      throw new NftMissingError(result.stderr.trim());
    const denied = notPrivileged(result.stderr);
    if (denied) throw denied;
    throw new NftFailedError([command.file, ...command.args], result.exitCode, result.stderr, what);
  }

  /** `nft list ruleset`: every table of every family. */
  async list(): Promise<string> {
    return (await this.run({ file: 'nft', args: ['list', 'ruleset'] }, 'listing')).stdout;
  }

  /** `nft -f -`: applies the transaction atomically. */
  async apply(transaction: string): Promise<void> {
    await this.run({ file: 'nft', args: ['-f', '-'], input: transaction }, 'run');
  }
}
