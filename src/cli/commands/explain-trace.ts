/**
 * `explain --live`: the kernel's own trace of the connection (nft backend). A TRACE rule for
 * the connection's packets goes first in raw OUTPUT (outbound) or raw PREROUTING (inbound),
 * `xtables-monitor --trace` listens for a bounded time, and the rule is removed whatever
 * happens: on success, on failure and on Ctrl-C. The legacy backend's TRACE writes to the
 * kernel log, which cannot be read per namespace, so there it says it cannot trace.
 */
import { spawn } from 'node:child_process';
import { CommandFailedError } from '../../errors.js';
import type { Connection } from '../../explain/packet.js';
import { parseTrace, traceMatch, type TraceStep } from '../../explain/trace.js';
import type { CommandRunner } from '../../exec/command.js';
import { inNetns, netnsRunner } from '../../exec/netns.js';

export interface TraceRequest {
  readonly connection: Connection;
  /** Whether `--src` was given (then the trace rule matches the source too). */
  readonly withSource: boolean;
  /** The iptables binary of the connection's family, as detected (`iptables-nft`, …). */
  readonly binary: string;
  readonly netns?: string;
  readonly seconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Traces the first packet of the connection; `ready` is told when the connection may be
 * opened. A string says why the monitor gave no trace (it stopped with an error: xtables-monitor
 * 1.8.9, for one, cannot print IPv6 rules that match a protocol and exits).
 */
export async function traceLive(
  base: CommandRunner,
  request: TraceRequest,
  ready: (line: string) => void,
): Promise<TraceStep[] | string> {
  const { connection: c, binary, netns } = request;
  // The trace rule goes into the namespace traced, never into this process's own by mistake.
  const runner = netnsRunner(base, netns);
  const chain = c.direction === 'outbound' ? 'OUTPUT' : 'PREROUTING';
  const spec = [
    ...traceMatch(c, request.withSource),
    '-m',
    'comment',
    '--comment',
    `istio-iptables explain trace ${process.pid}`,
    '-j',
    'TRACE',
  ];
  const monitor = { file: 'xtables-monitor', args: ['--trace', c.family === 'ipv4' ? '-4' : '-6'] };
  const command = netns ? inNetns(monitor, netns) : monitor;
  const child = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  let lastOutput = Date.now();
  child.stderr.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    lastOutput = Date.now();
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', () => undefined);
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);
  let inserted = false;
  try {
    // The monitor subscribes to trace events as it starts; give it that moment.
    await sleep(300);
    const insert = await runner.run({ file: binary, args: ['-t', 'raw', '-I', chain, '1', ...spec] });
    if (insert.exitCode !== 0)
      throw new CommandFailedError([binary, '-t', 'raw', '-I', chain, '1', ...spec], insert.exitCode, insert.stderr);
    inserted = true;
    ready(`tracing for up to ${request.seconds} s: open the connection now`);
    const deadline = Date.now() + request.seconds * 1000;
    // Done at the deadline, on Ctrl-C, or once the first packet's trace has been quiet a moment.
    while (!interrupted && Date.now() < deadline && child.exitCode === null) {
      if (parseTrace(output).length > 0 && Date.now() - lastOutput > 500) break;
      await sleep(50);
    }
  } finally {
    if (inserted) await runner.run({ file: binary, args: ['-t', 'raw', '-D', chain, ...spec] });
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    process.removeListener('SIGINT', onInterrupt);
    process.removeListener('SIGTERM', onInterrupt);
  }
  const steps = parseTrace(output);
  const failure = errors.trim().split('\n')[0];
  if (failure && (steps.length === 0 || steps.some((s) => s.kind === 'rule' && !s.rule)))
    return `xtables-monitor stopped: ${errors.trim().split('\n').join(' ')}`;
  return steps;
}
