/**
 * nft's transactions and listings run in this process, through the library the nft program
 * is a shell around (libnftables, loaded by the native helper), instead of a process each:
 * the same batch, the same atomicity, the same text back, in the network namespace this
 * process is in, which is where a plain `nft` command would run (commands for another
 * namespace come here wrapped in nsenter, and are left to the processes).
 * Only where the nft program is installed: nftables missing stays the error it was, with or
 * without the helper. That program is looked for, not run: an `nft` stub on PATH does not stand
 * in for nft here (ISTIO_IPTABLES_NATIVE=0 makes the run start it; scripts/warm-up.mjs does so).
 */
import type { Command, CommandResult, CommandRunner } from './command.js';
import type { NativeHelper } from './native.js';
import { nftInstalled } from './nft-tables.js';

/** The helper's "no libnftables here". */
const ELIBACC = 79;

/** What `nft -f -` calls its input in messages (`/dev/stdin:3:1-4: Error: …`). */
const STDIN_NAME = '/dev/stdin';

/** How the library runs `command`: as `nft -f -`'s input, or as a command line; undefined: not its to run. */
function libraryCall(command: Command): { text: string; asFile: boolean } | undefined {
  if (command.file !== 'nft' || command.env !== undefined) return undefined;
  const [first, ...rest] = command.args;
  if (first === '-f' && rest.length === 1 && rest[0] === '-' && command.input !== undefined)
    return { text: command.input, asFile: true };
  // Listings only: they end by themselves (`nft monitor` would not), and read nothing from stdin.
  if (first === 'list' && command.input === undefined) return { text: command.args.join(' '), asFile: false };
  return undefined;
}

/**
 * `runner`, with `nft -f -` and `nft list …` run through the helper's libnftables; every other
 * command, and every nft command where the library is not installed, by `runner`.
 */
export function nftLibraryRunner(native: NativeHelper, runner: CommandRunner, path = process.env.PATH): CommandRunner {
  let usable: boolean | undefined;
  return {
    async run(command): Promise<CommandResult> {
      const call = libraryCall(command);
      usable ??= call === undefined ? undefined : nftInstalled(path);
      if (call === undefined || !usable) return runner.run(command);
      const result = native.nft(call.text, call.asFile);
      if (typeof result === 'number') {
        if (result === ELIBACC) usable = false;
        return runner.run(command);
      }
      const [exitCode, stdout, stderr, inputName] = result;
      return {
        exitCode,
        stdout,
        stderr: inputName === '' ? stderr : stderr.replaceAll(`${inputName}:`, `${STDIN_NAME}:`),
      };
    },
  };
}
