/**
 * Starting programs through the native helper's posix_spawn (src/native/netns.c): the child
 * does not start as a copy of node (a fork copies node's page tables first: ~1.3 ms a command
 * against ~0.6 ms). One of the ways process-runner.ts runs a command, with the same contract
 * (src/exec/process-runner.test.ts runs every way through the same tests).
 */
import { environmentPairs } from './command.js';
import { errnoName, type NativeHelper } from './native.js';
import type { RunSync } from './process-runner.js';

/** Runs each command with the helper's spawn. */
export function nativeRunSync(native: NativeHelper): RunSync {
  return (command, timeoutMs) => {
    const result = native.spawn(
      command.file,
      [command.file, ...command.args],
      environmentPairs(command),
      command.input ?? null,
      command.fds ?? [],
      timeoutMs,
    );
    if (typeof result === 'number') {
      const errorCode = errnoName(result);
      return {
        status: null,
        signal: null,
        stdout: '',
        stderr: '',
        errorCode,
        errorMessage: `spawn ${command.file} ${errorCode}`,
      };
    }
    const [exitCode, signal, stdout, stderr, errno] = result;
    // ETIMEDOUT (killed at the timeout), EPIPE (it did not read all its input), ENOMEM, ECHILD.
    const errorCode = errno === 0 ? undefined : errnoName(errno);
    return {
      status: signal === 0 ? exitCode : null,
      signal: signal === 0 ? null : signalName(signal),
      stdout,
      stderr,
      ...(errorCode === undefined ? {} : { errorCode, errorMessage: `spawn ${command.file} ${errorCode}` }),
    };
  };
}

/** SIGKILL for 9: node:os only when a process was signalled. */
function signalName(signal: number): string {
  const names = process.getBuiltinModule('node:os').constants.signals as Record<string, number>;
  return Object.keys(names).find((name) => names[name] === signal) ?? `signal ${signal}`;
}
