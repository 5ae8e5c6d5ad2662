/**
 * `CommandRunner` on node:child_process: no shell, stdin from `input`, results as data, and an
 * exception only when the process could not be run. (execa did this before; loading it took a
 * run into a namespace about 20 ms, a fifth of the whole run.)
 */
import type { spawn as Spawn } from 'node:child_process';
import { CommandFailedError } from '../errors.js';
import type { Command, CommandResult, CommandRunner } from './command.js';

/** A generous bound: iptables waits at most 30 s for its lock. */
const TIMEOUT_MS = 60_000;

let spawnFunction: typeof Spawn | undefined;

/** node:child_process, loaded at the first command: a dry run starts none, and loading it costs ~3 ms. */
async function loadSpawn(): Promise<typeof Spawn> {
  spawnFunction ??= (await import('node:child_process')).spawn;
  return spawnFunction;
}

export const processRunner: CommandRunner = {
  async run(command: Command): Promise<CommandResult> {
    const spawn = spawnFunction ?? (await loadSpawn());
    return new Promise((resolve, reject) => {
      const argv = [command.file, ...command.args];
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8');
      let settled = false;
      const fail = (reason: string, cause?: unknown) => {
        if (settled) return;
        settled = true;
        reject(new CommandFailedError(argv, undefined, text(stderr), { message: `could not run \`${command.file}\`: ${reason}`, cause }));
      };
      const child = spawn(command.file, command.args, {
        stdio: [command.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        ...(command.env ? { env: { ...process.env, ...command.env } } : {}),
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(`timed out after ${TIMEOUT_MS} ms`);
      }, TIMEOUT_MS);
      child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.on('error', (error) => {
        clearTimeout(timer);
        fail(error.message, error);
      });
      child.on('close', (exitCode, signal) => {
        clearTimeout(timer);
        if (exitCode === null) {
          fail(`killed by ${signal ?? 'a signal'}`);
          return;
        }
        if (settled) return;
        settled = true;
        resolve({ exitCode, stdout: text(stdout), stderr: text(stderr) });
      });
      if (command.input !== undefined) {
        // A process that exits without reading its input is reported by its exit code, not EPIPE.
        child.stdin?.on('error', () => undefined);
        child.stdin?.end(command.input);
      }
    });
  },
};
