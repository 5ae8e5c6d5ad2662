/**
 * `explain --live`: the kernel's own trace of the connection. Two tracers, one procedure: a
 * monitor listens for trace events in the namespace for a bounded time, a rule that selects the
 * connection's packets for tracing goes in, and that rule is removed whatever happens: on
 * success, on failure and on Ctrl-C.
 * - `xtables-monitor --trace` with a TRACE rule first in raw OUTPUT/PREROUTING (iptables' nft
 *   backend, IPv4);
 * - `nft monitor trace` with a table of our own whose chain runs before all others and sets
 *   `meta nftrace` (native nftables; iptables' nft backend on IPv6, which xtables-monitor 1.8.9
 *   cannot print).
 * The legacy backend's TRACE writes to the kernel log, which cannot be read per namespace: the
 * caller says so instead of tracing.
 */
import { spawn } from 'node:child_process';
import { CommandFailedError } from '../../errors.js';
import { parseNftTrace, traceTableName, traceTableTransaction } from '../../explain/nft-trace.js';
import type { Connection } from '../../explain/packet.js';
import { parseTrace, traceMatch, type TraceStep } from '../../explain/trace.js';
import type { Command, CommandRunner } from '../../exec/command.js';
import { inNetns, netnsRunner } from '../../exec/netns.js';

export interface TraceRequest {
  readonly connection: Connection;
  /** Whether `--src` was given (then the trace rule matches the source too). */
  readonly withSource: boolean;
  /** `nft`, or the iptables binary of the connection's family, as detected (`iptables-nft`, …). */
  readonly tracer: { readonly kind: 'nft' } | { readonly kind: 'xtables'; readonly binary: string };
  readonly netns?: string;
  readonly seconds: number;
}

/** What differs between the tracers: the monitor, how its output reads, adding and removing the rule. */
interface Tracer {
  readonly name: string;
  readonly monitor: Command;
  readonly parse: (output: string) => TraceStep[];
  readonly add: Command;
  readonly remove: Command;
}

function tracerFor(request: TraceRequest): Tracer {
  const c = request.connection;
  if (request.tracer.kind === 'nft') {
    const table = traceTableName(process.pid);
    return {
      name: 'nft monitor trace',
      monitor: { file: 'nft', args: ['monitor', 'trace'] },
      parse: parseNftTrace,
      add: { file: 'nft', args: ['-f', '-'], input: traceTableTransaction(table, c, request.withSource) },
      remove: { file: 'nft', args: ['delete', 'table', 'inet', table] },
    };
  }
  const binary = request.tracer.binary;
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
  return {
    name: 'xtables-monitor',
    monitor: { file: 'xtables-monitor', args: ['--trace', c.family === 'ipv4' ? '-4' : '-6'] },
    parse: parseTrace,
    add: { file: binary, args: ['-t', 'raw', '-I', chain, '1', ...spec] },
    remove: { file: binary, args: ['-t', 'raw', '-D', chain, ...spec] },
  };
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
  const tracer = tracerFor(request);
  const { netns } = request;
  // The trace rule goes into the namespace traced, never into this process's own by mistake.
  const runner = netnsRunner(base, netns);
  const command = netns ? inNetns(tracer.monitor, netns) : tracer.monitor;
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
    const added = await runner.run(tracer.add);
    if (added.exitCode !== 0)
      throw new CommandFailedError([tracer.add.file, ...tracer.add.args], added.exitCode, added.stderr);
    inserted = true;
    ready(`tracing for up to ${request.seconds} s: open the connection now`);
    const deadline = Date.now() + request.seconds * 1000;
    // Done at the deadline, on Ctrl-C, or once the first packet's trace has been quiet a moment.
    while (!interrupted && Date.now() < deadline && child.exitCode === null) {
      if (tracer.parse(output).length > 0 && Date.now() - lastOutput > 500) break;
      await sleep(50);
    }
  } finally {
    if (inserted) await runner.run(tracer.remove);
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    process.removeListener('SIGINT', onInterrupt);
    process.removeListener('SIGTERM', onInterrupt);
  }
  const steps = tracer.parse(output);
  const failure = errors.trim().split('\n')[0];
  if (failure && (steps.length === 0 || steps.some((s) => s.kind === 'rule' && !s.rule)))
    return `${tracer.name} stopped: ${errors.trim().split('\n').join(' ')}`;
  return steps;
}
