/** `CommandRunner` backed by execa: no shell, stdin from `input`, results as data. */
import { execa } from 'execa';
import { CommandFailedError } from '../errors.js';
import type { Command, CommandResult, CommandRunner } from './command.js';

/** A generous bound: iptables waits at most 30 s for its lock. */
const TIMEOUT_MS = 60_000;

export const execaRunner: CommandRunner = {
  async run(command: Command): Promise<CommandResult> {
    const result = await execa(command.file, command.args, {
      reject: false,
      stripFinalNewline: false,
      timeout: TIMEOUT_MS,
      ...(command.input !== undefined ? { input: command.input } : { stdin: 'ignore' as const }),
      ...(command.env ? { env: command.env, extendEnv: true } : {}),
    });
    if (result.exitCode === undefined) {
      const reason = result.timedOut ? `timed out after ${TIMEOUT_MS} ms` : result.originalMessage || result.shortMessage;
      throw new CommandFailedError([command.file, ...command.args], undefined, String(result.stderr ?? ''), {
        message: `could not run \`${command.file}\`: ${reason}`,
        cause: result.cause,
      });
    }
    return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
  },
};
