/**
 * Which nft commands go to the helper's libnftables and how its answers read; the library
 * against the kernel and the nft program is test/nft-library.kernel.test.ts's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import type { Command, CommandRunner } from './command.js';
import type { NativeHelper } from './native.js';
import { nftLibraryRunner } from './nft-library.js';

const bin = mkdtempSync(`${tmpdir()}/iit-nft-lib-`);
writeFileSync(`${bin}/nft`, '');
afterAll(() => rmSync(bin, { recursive: true, force: true }));

/** A helper whose nft answers with `answer`, recording its calls. */
function fakeNative(answer: ReturnType<NativeHelper['nft']>) {
  const calls: [string, boolean][] = [];
  const native: NativeHelper = {
    tryLock: () => 0,
    enterNet: () => 0,
    tableNames: () => [],
    spawn: () => {
      throw new Error('nft commands never start a process here');
    },
    nft: (text, asFile) => {
      calls.push([text, asFile]);
      return answer;
    },
  };
  return { native, calls };
}

/** A runner recording what reaches the processes. */
function processes() {
  const ran: Command[] = [];
  const runner: CommandRunner = {
    run: async (command) => {
      ran.push(command);
      return { exitCode: 0, stdout: 'from a process', stderr: '' };
    },
  };
  return { runner, ran };
}

describe('nftLibraryRunner', () => {
  it('runs `nft -f -` with its input as one file-like batch, and listings as command lines', async () => {
    const { native, calls } = fakeNative([0, 'table inet t {\n}\n', '', '/proc/self/fd/21']);
    const { runner, ran } = processes();
    const nft = nftLibraryRunner(native, runner, bin);
    expect(await nft.run({ file: 'nft', args: ['-f', '-'], input: 'add table inet t\n', fds: [3] })).toEqual({
      exitCode: 0,
      stdout: 'table inet t {\n}\n',
      stderr: '',
    });
    await nft.run({ file: 'nft', args: ['list', 'ruleset'] });
    await nft.run({ file: 'nft', args: ['list', 'tables', 'inet'] });
    expect(calls).toEqual([
      ['add table inet t\n', true],
      ['list ruleset', false],
      ['list tables inet', false],
    ]);
    expect(ran).toEqual([]);
  });

  it("names the input /dev/stdin in nft's messages, as `nft -f -` does", async () => {
    const stderr =
      '/proc/self/fd/21:3:1-4: Error: Could not process rule: No such file or directory\nadd rule inet t c\n^^^^\n';
    const { native } = fakeNative([1, '', stderr, '/proc/self/fd/21']);
    const result = await nftLibraryRunner(native, processes().runner, bin).run({
      file: 'nft',
      args: ['-f', '-'],
      input: 'x',
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      '/dev/stdin:3:1-4: Error: Could not process rule: No such file or directory\nadd rule inet t c\n^^^^\n',
    );
  });

  it('leaves every other command to the processes: monitors, options, other programs, nsenter-wrapped nft', async () => {
    const { native, calls } = fakeNative([0, '', '', '']);
    const { runner, ran } = processes();
    const nft = nftLibraryRunner(native, runner, bin);
    const others: Command[] = [
      { file: 'nft', args: ['monitor', 'trace'] },
      { file: 'nft', args: ['-c', '-f', '-'], input: 'x' },
      { file: 'nft', args: ['-f', '/etc/nftables.conf'] },
      { file: 'nft', args: ['list', 'ruleset'], env: { LANG: 'C' } },
      { file: 'nsenter', args: ['--net=/var/run/netns/x', '--', 'nft', 'list', 'ruleset'] },
      { file: 'iptables-nft-restore', args: ['--noflush'], input: '*nat\nCOMMIT\n' },
    ];
    for (const command of others) expect((await nft.run(command)).stdout).toBe('from a process');
    expect(ran).toEqual(others);
    expect(calls).toEqual([]);
  });

  it('runs nft as a process where the nft program is not installed: its absence stays the error it is', async () => {
    const { native, calls } = fakeNative([0, '', '', '']);
    const { runner, ran } = processes();
    await nftLibraryRunner(native, runner, '/nonexistent:').run({ file: 'nft', args: ['list', 'ruleset'] });
    expect(calls).toEqual([]);
    expect(ran).toHaveLength(1);
  });

  it('falls back to processes for good once the library is found missing (ELIBACC), for one call on other errors', async () => {
    const missing = fakeNative(79);
    const first = processes();
    const nft = nftLibraryRunner(missing.native, first.runner, bin);
    await nft.run({ file: 'nft', args: ['list', 'ruleset'] });
    await nft.run({ file: 'nft', args: ['list', 'ruleset'] });
    expect(missing.calls).toHaveLength(1);
    expect(first.ran).toHaveLength(2);

    const failing = fakeNative(12);
    const second = processes();
    const again = nftLibraryRunner(failing.native, second.runner, bin);
    await again.run({ file: 'nft', args: ['list', 'ruleset'] });
    await again.run({ file: 'nft', args: ['list', 'ruleset'] });
    expect(failing.calls).toHaveLength(2);
    expect(second.ran).toHaveLength(2);
  });
});
