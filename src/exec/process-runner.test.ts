import { describe, expect, it } from 'vitest';
import { CommandFailedError } from '../errors.js';
import { processRunner } from './process-runner.js';

describe('processRunner', () => {
  it('passes input on stdin and returns exit code, stdout and stderr as they are', async () => {
    const result = await processRunner.run({ file: 'sh', args: ['-c', 'cat; printf "warn\\n" >&2; exit 3'], input: 'payload\nline 2\n' });
    expect(result).toEqual({ exitCode: 3, stdout: 'payload\nline 2\n', stderr: 'warn\n' });
  });

  it('gives no stdin when there is no input, and adds env to the inherited environment', async () => {
    const result = await processRunner.run({ file: 'sh', args: ['-c', 'cat; printf "%s %s" "$IIT_TEST_VALUE" "${PATH:+path}"'], env: { IIT_TEST_VALUE: 'set' } });
    expect(result).toEqual({ exitCode: 0, stdout: 'set path', stderr: '' });
  });

  it('reports a process that exits without reading its input by its exit code', async () => {
    const result = await processRunner.run({ file: 'sh', args: ['-c', 'exit 4'], input: 'x'.repeat(1 << 20) });
    expect(result.exitCode).toBe(4);
  });

  it('returns output larger than spawnSync\'s default buffer whole', async () => {
    const result = await processRunner.run({ file: 'sh', args: ['-c', 'head -c 3000000 /dev/zero | tr "\\0" a'] });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.length).toBe(3_000_000);
  });

  it('throws CommandFailedError for a process killed by a signal', async () => {
    const error = await processRunner.run({ file: 'sh', args: ['-c', 'kill -9 $$'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).message).toBe('could not run `sh`: killed by SIGKILL');
  });

  it('kills a process that outlives the command\'s timeout', async () => {
    const error = await processRunner.run({ file: 'sleep', args: ['5'], timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).message).toBe('could not run `sleep`: timed out after 200 ms');
  });

  it('throws CommandFailedError when the program cannot be started', async () => {
    const error = await processRunner.run({ file: 'iit-no-such-program', args: ['a'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).message).toBe('could not run `iit-no-such-program`: no such program on PATH');
    expect((error as CommandFailedError).command).toEqual(['iit-no-such-program', 'a']);
  });
});
