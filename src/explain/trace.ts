/**
 * The kernel's own account of a packet's path: `xtables-monitor --trace` lines, read into
 * steps that print beside the simulated ones. The trace rule `explain --live` adds is itself
 * part of the path (the first step), which the output keeps: it is what the kernel saw.
 */
import type { Connection } from './packet.js';

/** One trace event: a rule that matched (with its verdict), a return, or a policy. */
export interface TraceStep {
  readonly table: string;
  readonly chain: string;
  /** `rule`, `return` or `policy`. */
  readonly kind: string;
  /** `CONTINUE`, `JUMP:ISTIO_OUTPUT`, `ACCEPT`, … as the kernel reports it. */
  readonly verdict: string;
  /** The rule as iptables prints it, for `rule` events. */
  readonly rule?: string;
}

/** nf_tables' own verdicts, which the monitor prints as numbers (linux/netfilter/nf_tables.h). */
const NUMERIC_VERDICTS: Readonly<Record<string, string>> = {
  '0xffffffff': 'CONTINUE',
  '0xfffffffe': 'BREAK',
  '0xfffffffd': 'JUMP',
  '0xfffffffc': 'GOTO',
  '0xfffffffb': 'RETURN',
};

/** The trace of the first packet in the monitor's output (later packets of the flow are left out). */
export function parseTrace(text: string): TraceStep[] {
  let id: string | undefined;
  const steps: TraceStep[] = [];
  for (const line of text.split('\n')) {
    // The next packet passes the trace rule again (the monitor may give it the same trace id,
    // and prints packet headers within one packet's trace too).
    if (steps.length > 0 && line.includes(' -j TRACE') && /:rule:/.test(line)) break;
    const match =
      /^\s*TRACE: \d+ ([0-9a-f]+) ([a-z]+):([^:]+):(rule|return|policy):(?:0x[0-9a-f]+:)?(\S*)\s*(.*)$/.exec(line);
    if (!match) continue;
    id ??= match[1];
    if (match[1] !== id) continue;
    const rule = (match[6] ?? '').replace(/^-[46] -t \S+ /, '').trim();
    const verdict = NUMERIC_VERDICTS[match[5] ?? ''] ?? match[5] ?? '';
    steps.push({
      table: match[2] ?? '',
      chain: match[3] ?? '',
      kind: match[4] ?? '',
      verdict,
      ...(rule ? { rule } : {}),
    });
  }
  return steps;
}

/** The rule spec that selects the connection's packets for tracing (after `-A CHAIN`). */
export function traceMatch(c: Connection, withSource: boolean): string[] {
  return [
    '-p',
    c.protocol,
    ...(withSource ? ['-s', c.source.text] : []),
    '-d',
    c.destination.text,
    '--dport',
    String(c.destinationPort),
  ];
}

/** The trace, one line per step, for the terminal. */
export function formatTrace(steps: readonly TraceStep[], tool = 'xtables-monitor --trace'): string {
  if (steps.length === 0) return 'kernel trace: no packet of the connection was seen\n';
  const lines = steps.map((s) =>
    `  ${s.table} ${s.chain}: ${s.kind} ${s.verdict}${s.rule ? `  ${s.rule}` : ''}`.trimEnd(),
  );
  return `kernel trace (${tool}, first packet):\n${lines.join('\n')}\n`;
}
