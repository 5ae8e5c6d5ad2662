import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CommandFailedError } from '../errors.js';
import { loadNativeHelper } from './native.js';
import { onPath } from './preflight.js';
import { nativeRunSync } from './native-spawn.js';
import { bindingRunSync, childProcessRunSync, syncProcessRunner } from './process-runner.js';

const viaBinding = bindingRunSync();
/** Built by `npm run build` wherever a C compiler is (src/exec/lock.test.ts checks that). */
const native = onPath(process.env.CC || 'cc', process.env.PATH ?? '')
  ? loadNativeHelper(fileURLToPath(new URL('../../dist/native/netns.node', import.meta.url)))
  : undefined;

// Every way of running a process keeps the same contract; the CLI uses the native helper where
// built, else the binding when node has it.
describe.each([
  [
    "the native helper's posix_spawn",
    syncProcessRunner(() => {
      if (!native) throw new Error('the native helper is not built');
      return nativeRunSync(native);
    }),
  ],
  [
    "node's spawn_sync binding",
    syncProcessRunner(() => {
      if (!viaBinding) throw new Error('this node has no spawn_sync binding');
      return viaBinding;
    }),
  ],
  ['node:child_process spawnSync', syncProcessRunner(childProcessRunSync)],
])('a runner through %s', (_name, runner) => {
  it('passes input on stdin and returns exit code, stdout and stderr as they are', async () => {
    const result = await runner.run({
      file: 'sh',
      args: ['-c', 'cat; printf "warn\\n" >&2; exit 3'],
      input: 'payload\nline 2\n',
    });
    expect(result).toEqual({ exitCode: 3, stdout: 'payload\nline 2\n', stderr: 'warn\n' });
  });

  it('keeps multi-byte UTF-8 whole, in and out', async () => {
    const result = await runner.run({ file: 'sh', args: ['-c', 'cat; printf "é" >&2'], input: 'ünïcode ✓\n' });
    expect(result).toEqual({ exitCode: 0, stdout: 'ünïcode ✓\n', stderr: 'é' });
  });

  it('gives no stdin when there is no input, and adds env to the inherited environment', async () => {
    const result = await runner.run({
      file: 'sh',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, not a template.
      args: ['-c', 'cat; printf "%s %s" "$IIT_TEST_VALUE" "${PATH:+path}"'],
      env: { IIT_TEST_VALUE: 'set' },
    });
    expect(result).toEqual({ exitCode: 0, stdout: 'set path', stderr: '' });
  });

  it('passes extra open descriptors on as fds 3, 4, … (the namespace lock)', async () => {
    const fd = openSync(fileURLToPath(import.meta.url), 'r');
    try {
      const result = await runner.run({
        file: 'sh',
        args: ['-c', 'head -c 7 <&3; readlink /proc/self/fd/3'],
        fds: [fd],
      });
      expect(result.stdout).toBe(`import ${fileURLToPath(import.meta.url)}\n`);
    } finally {
      closeSync(fd);
    }
  });

  it('passes arguments as they are, with no shell between', async () => {
    const result = await runner.run({ file: 'printf', args: ['%s|', 'a b', '$HOME', '*', ''] });
    expect(result.stdout).toBe('a b|$HOME|*||');
  });

  it('refuses an argument with a NUL byte, which would cut it short', async () => {
    const error = await runner.run({ file: 'printf', args: ['%s', 'a\0b'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).message).toBe('could not run `printf`: an argument contains a NUL byte');
  });

  it('reports a process that exits without reading its input by its exit code', async () => {
    const result = await runner.run({ file: 'sh', args: ['-c', 'exit 4'], input: 'x'.repeat(1 << 20) });
    expect(result.exitCode).toBe(4);
  });

  it("returns output larger than spawnSync's default buffer whole", async () => {
    const result = await runner.run({ file: 'sh', args: ['-c', 'head -c 3000000 /dev/zero | tr "\\0" a'] });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.length).toBe(3_000_000);
  });

  it('throws CommandFailedError for a process killed by a signal', async () => {
    const error = await runner.run({ file: 'sh', args: ['-c', 'kill -9 $$'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).message).toBe('could not run `sh`: killed by SIGKILL');
  });

  it("kills a process that outlives the command's timeout", async () => {
    const error = await runner.run({ file: 'sleep', args: ['5'], timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).message).toBe('could not run `sleep`: timed out after 200 ms');
  });

  it('throws CommandFailedError when the program cannot be started', async () => {
    const error = await runner.run({ file: 'iit-no-such-program', args: ['a'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).message).toBe('could not run `iit-no-such-program`: no such program on PATH');
    expect((error as CommandFailedError).command).toEqual(['iit-no-such-program', 'a']);
  });
});

describe('processRunner', () => {
  it('runs commands without loading node:child_process (and its net and stream modules)', () => {
    const runner = fileURLToPath(new URL('../../dist/exec/process-runner.js', import.meta.url));
    // Compared with what node loaded before the import: node 24 loads net at start-up itself
    // when its stdio are pipes.
    const script = `const list = () => process.moduleLoadList.filter((m) => /child_process|NativeModule net$/.test(m));
      const before = list();
      const { processRunner } = await import(${JSON.stringify(runner)});
      const result = await processRunner.run({ file: 'sh', args: ['-c', 'printf ok'] });
      const loaded = list().filter((m) => !before.includes(m));
      process.stdout.write(JSON.stringify({ stdout: result.stdout, loaded }));`;
    const out = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
    ) as { stdout: string; loaded: string[] };
    expect(out).toEqual({ stdout: 'ok', loaded: [] });
  });

  it('starts programs through the native helper where it is built, unless ISTIO_IPTABLES_NATIVE=0', () => {
    if (!native) return;
    const runner = fileURLToPath(new URL('../../dist/exec/process-runner.js', import.meta.url));
    // The helper is loaded at the runner's first command, for its spawn (no lock, no namespace here).
    const script = `const { processRunner } = await import(${JSON.stringify(runner)});
      const result = await processRunner.run({ file: 'sh', args: ['-c', 'printf ok'] });
      const { readFileSync } = await import('node:fs');
      process.stdout.write(result.stdout + ' ' + readFileSync('/proc/self/maps', 'utf8').includes('/netns.node'));`;
    const run = (env: NodeJS.ProcessEnv) =>
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env });
    expect(run(process.env)).toBe('ok true');
    expect(run({ ...process.env, ISTIO_IPTABLES_NATIVE: '0' })).toBe('ok false');
  });

  it('is quiet under --pending-deprecation', () => {
    const runner = fileURLToPath(new URL('../../dist/exec/process-runner.js', import.meta.url));
    const script = `const { processRunner } = await import(${JSON.stringify(runner)}); await processRunner.run({ file: 'true', args: [] });`;
    const result = spawnSync(process.execPath, ['--pending-deprecation', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
  });
});
