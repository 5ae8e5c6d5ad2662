/**
 * `CommandRunner` for real processes: no shell, stdin from `input`, results as data, and an
 * exception only when the process could not be run (not found, killed, timed out).
 *
 * Each command runs synchronously, one after another. The CLI has nothing to do while a
 * command runs, and a synchronous spawn skips the streams and sockets an asynchronous one
 * builds for every child (a third less time for a read, a restore and a read-back; execa,
 * the runner before, took longer to load than a whole run's commands). Figures: bench/RESULTS.md.
 *
 * node's spawnSync is a thin layer over its `spawn_sync` binding, but loading
 * node:child_process also loads net, stream and dgram, and its first call costs as much
 * again: together a fifth of what a real run adds to node's own start. So the runner calls the
 * binding itself, with the options spawnSync would give it, and falls back to spawnSync
 * wherever the binding is not there (a node that no longer offers it). Both fork node, which
 * first copies node's page tables; where the native helper is built, its posix_spawn starts
 * the program without that copy, at about half the cost, and is used instead (native-spawn.ts).
 */
import type { spawnSync as SpawnSync } from 'node:child_process';
import { CommandFailedError } from '../errors.js';
import { type Command, type CommandResult, type CommandRunner, environmentOf, environmentPairs } from './command.js';
import { packagedNativeHelper } from './native.js';
import { nativeRunSync } from './native-spawn.js';

/** A generous bound unless the command sets its own: iptables waits at most 30 s for its lock. */
const TIMEOUT_MS = 60_000;
/** State reads of very long rule lists run to many megabytes; spawnSync's default is 1 MiB. */
const MAX_OUTPUT_BYTES = 1 << 30;
const SIGKILL = 9;

/** What one synchronous run gives back, from any way of running it. */
export interface RawResult {
  readonly status: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The errno name when the run itself failed: ENOENT, ETIMEDOUT, EPIPE, … */
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

export type RunSync = (command: Command, timeoutMs: number) => RawResult;

/** The part of node's `spawn_sync` binding used here (node's lib/internal/child_process.js calls it the same way). */
interface SpawnSyncBinding {
  spawn(options: {
    file: string;
    args: string[];
    envPairs: string[];
    stdio: (
      | { type: 'ignore' }
      | { type: 'fd'; fd: number }
      | { type: 'pipe'; readable: boolean; writable: boolean; input?: Buffer }
    )[];
    timeout: number;
    maxBuffer: number;
    killSignal: number;
  }): { status: number | null; signal: string | null; output?: (Buffer | null)[] | null; error?: number };
}

/** Runs through node's spawn_sync binding; undefined when this node does not offer it. */
export function bindingRunSync(): RunSync | undefined {
  let binding: SpawnSyncBinding | undefined;
  // process.binding is deprecated in documentation only; --pending-deprecation would print a
  // warning for it, which says nothing to our users.
  const quiet = process.noDeprecation === true;
  process.noDeprecation = true;
  try {
    binding = (process as unknown as { binding(name: string): SpawnSyncBinding }).binding('spawn_sync');
  } catch {
    return undefined;
  } finally {
    process.noDeprecation = quiet;
  }
  if (typeof binding?.spawn !== 'function') return undefined;
  const spawn = binding.spawn.bind(binding);
  return (command, timeoutMs) => {
    const envPairs = environmentPairs(command);
    const result = spawn({
      file: command.file,
      args: [command.file, ...command.args],
      envPairs,
      stdio: [
        command.input === undefined
          ? { type: 'ignore' }
          : { type: 'pipe', readable: true, writable: false, input: Buffer.from(command.input) },
        { type: 'pipe', readable: false, writable: true },
        { type: 'pipe', readable: false, writable: true },
        ...(command.fds ?? []).map((fd) => ({ type: 'fd' as const, fd })),
      ],
      timeout: timeoutMs,
      maxBuffer: MAX_OUTPUT_BYTES,
      killSignal: SIGKILL,
    });
    // The binding reports a failed run as a negative libuv error number (-2: ENOENT).
    // node:util only when a run fails: node 24 loads stream and net with it.
    const errorCode =
      result.error === undefined ? undefined : process.getBuiltinModule('node:util').getSystemErrorName(result.error);
    return {
      status: result.status,
      signal: result.signal,
      stdout: result.output?.[1]?.toString('utf8') ?? '',
      stderr: result.output?.[2]?.toString('utf8') ?? '',
      ...(errorCode === undefined ? {} : { errorCode, errorMessage: `spawnSync ${command.file} ${errorCode}` }),
    };
  };
}

/** Runs through node:child_process's spawnSync. */
export async function childProcessRunSync(): Promise<RunSync> {
  const spawnSync: typeof SpawnSync = (await import('node:child_process')).spawnSync;
  return (command, timeoutMs) => {
    const result = spawnSync(command.file, command.args, {
      stdio: [command.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe', ...(command.fds ?? [])],
      ...(command.input === undefined ? {} : { input: command.input }),
      env: environmentOf(command),
      encoding: 'utf8',
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: MAX_OUTPUT_BYTES,
    });
    const error = result.error as NodeJS.ErrnoException | undefined;
    return {
      status: result.status,
      signal: result.signal,
      stdout: result.stdout ?? '',
      stderr: result.stderr ?? '',
      ...(error ? { errorCode: error.code ?? 'unknown', errorMessage: error.message } : {}),
    };
  };
}

/** A runner over one way of running processes synchronously. */
export function syncProcessRunner(load: () => RunSync | Promise<RunSync>): CommandRunner {
  let runSync: RunSync | undefined;
  return {
    async run(command: Command): Promise<CommandResult> {
      // A NUL byte would end the argument early in the binding (spawnSync throws): refused here for both.
      if ([command.file, ...command.args].some((arg) => arg.includes('\0'))) {
        throw new CommandFailedError([command.file, ...command.args], undefined, '', {
          message: `could not run \`${command.file}\`: an argument contains a NUL byte`,
        });
      }
      runSync ??= await load();
      const timeoutMs = command.timeoutMs ?? TIMEOUT_MS;
      const result = runSync(command, timeoutMs);
      const fail = (reason: string) =>
        new CommandFailedError([command.file, ...command.args], undefined, result.stderr, {
          message: `could not run \`${command.file}\`: ${reason}`,
          ...(result.errorMessage === undefined ? {} : { cause: new Error(result.errorMessage) }),
        });
      // A process that exits without reading all of its input is reported by its exit code.
      if (result.errorCode !== undefined && !(result.errorCode === 'EPIPE' && result.status !== null)) {
        const reason =
          result.errorCode === 'ENOENT'
            ? 'no such program on PATH'
            : result.errorCode === 'ETIMEDOUT'
              ? `timed out after ${timeoutMs} ms`
              : (result.errorMessage ?? result.errorCode);
        throw fail(reason);
      }
      if (result.status === null) throw fail(`killed by ${result.signal ?? 'a signal'}`);
      return { exitCode: result.status, stdout: result.stdout, stderr: result.stderr };
    },
  };
}

/**
 * The runner the CLI uses: the native helper's spawn where it is built (native/netns.node one
 * directory up from here, in dist/ and in the bundle's entry files alike), else the binding
 * where node has it, else spawnSync.
 */
export const processRunner: CommandRunner = syncProcessRunner(() => {
  const native = packagedNativeHelper(import.meta.dirname);
  return native ? nativeRunSync(native) : (bindingRunSync() ?? childProcessRunSync());
});
