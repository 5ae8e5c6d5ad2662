/**
 * SIGTERM and SIGINT during a run: the kernel transaction under way (a restore, an `ip`
 * change) runs to its end, then the next change the run would make is refused, which the
 * run's own error handling answers by rolling back what it had changed; the run then fails
 * with InterruptedError. Reads go on (the rollback needs them), and so do the changes after
 * the refusal (the rollback's own). A signal that comes when no change is left lets the run
 * finish: it exits by what is in place.
 *
 * The commands run synchronously, so node sees a signal only when its event loop turns: the
 * runner lets it turn once before each command (a setImmediate, microseconds).
 */
import { InterruptedError } from '../errors.js';
import type { Command, CommandRunner } from './command.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Whether a command changes the namespace: a restore, or `ip … add|del`. */
export function changes(command: Command): boolean {
  const [file, ...args] =
    command.file === 'nsenter' ? command.args.slice(command.args.indexOf('--') + 1) : [command.file, ...command.args];
  if (file?.endsWith('-restore')) return true;
  return file === 'ip' && args.some((arg) => arg === 'add' || arg === 'del');
}

export interface Interrupts {
  /** The runner that refuses the first change after a signal. */
  wrap(runner: CommandRunner): CommandRunner;
  /** The signal received, if any. */
  readonly received: string | undefined;
  /** Stops listening: a later signal ends the process as usual. */
  dispose(): void;
}

/** Listens for SIGTERM/SIGINT on `proc` until disposed. */
export function watchInterrupts(proc: Pick<NodeJS.Process, 'on' | 'off'> = process): Interrupts {
  let received: string | undefined;
  let refused = false;
  const onSignal = (signal: NodeJS.Signals) => {
    received ??= signal;
  };
  for (const signal of SIGNALS) proc.on(signal, onSignal);
  return {
    get received() {
      return received;
    },
    wrap: (runner) => ({
      async run(command) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (received !== undefined && !refused && changes(command)) {
          refused = true;
          throw new InterruptedError(received);
        }
        return runner.run(command);
      },
    }),
    dispose: () => {
      for (const signal of SIGNALS) proc.off(signal, onSignal);
    },
  };
}
