import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { InterruptedError } from '../errors.js';
import type { Command, CommandRunner } from './command.js';
import { changes, watchInterrupts } from './interrupt.js';

const ran: string[] = [];
const runner: CommandRunner = {
  run: async (command) => {
    ran.push([command.file, ...command.args].join(' '));
    return { exitCode: 0, stdout: '', stderr: '' };
  },
};
const restore: Command = { file: 'iptables-nft-restore', args: ['--noflush'] };
const save: Command = { file: 'iptables-nft-save', args: [] };

describe('SIGTERM and SIGINT during a run', () => {
  it('tells changes from reads, also inside nsenter', () => {
    expect(changes(restore)).toBe(true);
    expect(changes({ file: 'nsenter', args: ['--net=/x', '--', 'ip6tables-legacy-restore', '--wait=30'] })).toBe(true);
    expect(changes({ file: 'ip', args: ['rule', 'add', 'fwmark', '1337', 'lookup', '133'] })).toBe(true);
    expect(changes({ file: 'nsenter', args: ['--net=/x', '--', 'ip', 'route', 'del', 'local', '0.0.0.0/0'] })).toBe(
      true,
    );
    expect(changes(save)).toBe(false);
    expect(changes({ file: 'ip', args: ['rule', 'show'] })).toBe(false);
    expect(changes({ file: 'nsenter', args: ['--net=/x', '--', 'iptables-nft-save'] })).toBe(false);
  });

  it('lets reads on, refuses the first change after the signal, then lets the rollback through', async () => {
    const proc = new EventEmitter() as unknown as NodeJS.Process;
    const interrupts = watchInterrupts(proc);
    const wrapped = interrupts.wrap(runner);
    ran.length = 0;
    await wrapped.run(restore);
    proc.emit('SIGTERM', 'SIGTERM');
    await wrapped.run(save);
    const error = await wrapped.run(restore).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as Error).message).toContain('stopped by SIGTERM');
    await wrapped.run(restore);
    expect(ran).toEqual(['iptables-nft-restore --noflush', 'iptables-nft-save', 'iptables-nft-restore --noflush']);
    expect(interrupts.received).toBe('SIGTERM');
    interrupts.dispose();
    expect((proc as unknown as EventEmitter).listenerCount('SIGINT')).toBe(0);
  });

  it('sees a real signal delivered while the run works', async () => {
    const interrupts = watchInterrupts();
    try {
      process.kill(process.pid, 'SIGINT');
      const error = await interrupts
        .wrap(runner)
        .run(restore)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InterruptedError);
      expect(interrupts.received).toBe('SIGINT');
    } finally {
      interrupts.dispose();
    }
  });
});
