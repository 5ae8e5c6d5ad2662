/**
 * A CommandRunner double that holds an ordered queue of expected commands with canned
 * results. A command that does not match the next expectation, or expectations left over at
 * the end, fail the test: the double asserts the contract, in order.
 */
import type { Command, CommandResult, CommandRunner } from '../../src/exec/command.js';

export interface Expectation {
  /** `file arg arg …`, compared as one string. */
  readonly line: string;
  readonly result?: Partial<CommandResult>;
  /** When given, the stdin the command must receive. */
  readonly input?: string | ((input: string | undefined) => void);
}

export class RecordingRunner implements CommandRunner {
  readonly calls: Command[] = [];
  private readonly queue: Expectation[];

  constructor(expectations: readonly Expectation[]) {
    this.queue = [...expectations];
  }

  async run(command: Command): Promise<CommandResult> {
    this.calls.push(command);
    const line = [command.file, ...command.args].join(' ');
    const next = this.queue.shift();
    if (!next) throw new Error(`unexpected command: ${line}`);
    if (next.line !== line) throw new Error(`expected \`${next.line}\`, got \`${line}\``);
    if (typeof next.input === 'string' && next.input !== command.input)
      throw new Error(`unexpected stdin for ${line}:\n${command.input}`);
    if (typeof next.input === 'function') next.input(command.input);
    return { exitCode: 0, stdout: '', stderr: '', ...next.result };
  }

  /** Throws when expected commands were never run. */
  assertDone(): void {
    if (this.queue.length > 0) throw new Error(`commands never run: ${this.queue.map((e) => e.line).join('; ')}`);
  }
}

RecordingRunner satisfies new (
  e: readonly Expectation[],
) => CommandRunner;
