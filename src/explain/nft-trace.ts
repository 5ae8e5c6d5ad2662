/**
 * The kernel's own account of a packet's path from `nft monitor trace`: used for native
 * nftables rulesets, and for iptables' nft backend where xtables-monitor cannot print the
 * rules (IPv6 with iptables 1.8.9). The trace is switched on by a rule of a table of our own
 * (`meta nftrace set 1`), whose chain runs before every other at the hook; that rule is the
 * trace's first step, as the kernel saw it.
 */
import type { Connection } from './packet.js';
import type { TraceStep } from './trace.js';

/** The table `explain --live` adds for the time of the trace (one per process: the pid). */
export function traceTableName(pid: number): string {
  return `istio-explain-trace-${pid}`;
}

/**
 * The nft transaction that adds the trace table: one chain at the connection's first hook,
 * priority −350 (before raw's −300, so before conntrack and every table of ours or
 * iptables'), with one rule that marks the connection's packets for tracing.
 */
export function traceTableTransaction(table: string, c: Connection, withSource: boolean): string {
  const hook = c.direction === 'outbound' ? 'output' : 'prerouting';
  const ip = c.family === 'ipv4' ? 'ip' : 'ip6';
  const match = [
    `meta l4proto ${c.protocol}`,
    ...(withSource ? [`${ip} saddr ${c.source.text}`] : []),
    `${ip} daddr ${c.destination.text}`,
    `${c.protocol} dport ${c.destinationPort}`,
  ].join(' ');
  return [
    `add table inet ${table}`,
    `add chain inet ${table} trace { type filter hook ${hook} priority -350 ; }`,
    `add rule inet ${table} trace ${match} meta nftrace set 1`,
    '',
  ].join('\n');
}

const LINE = /^trace id ([0-9a-f]+) (\S+) (\S+) (\S+) (rule|verdict|policy) (.*)$/;

/**
 * The first traced packet's steps in `nft monitor trace` output (nft 1.0): each rule that
 * matched with its verdict (`rule … (verdict jump istio-output)`), each chain's end
 * (`verdict continue`) and policy. Packet header lines are left out, as are later packets.
 */
export function parseNftTrace(text: string): TraceStep[] {
  let id: string | undefined;
  const steps: TraceStep[] = [];
  for (const line of text.split('\n')) {
    // The next packet of the flow passes the trace table again (nft may give it the same id).
    const again = /^trace id \S+ inet (istio-explain-trace-\d+) /.exec(line.trim());
    if (again && steps.some((s) => !s.table.endsWith(again[1] ?? ''))) break;
    const m = LINE.exec(line.trim());
    if (!m) continue;
    id ??= m[1];
    if (m[1] !== id) continue;
    const [, , family = '', table = '', chain = '', kind = '', rest = ''] = m;
    const where = { table: `${family} ${table}`, chain, kind };
    if (kind === 'rule') {
      const ruled = /^(.*) \(verdict ([^)]*)\)$/.exec(rest);
      const rule = (ruled?.[1] ?? rest).replace(/ ?counter packets \d+ bytes \d+/g, (s) =>
        s.startsWith(' ') ? ' counter' : 'counter',
      );
      steps.push({ ...where, verdict: ruled?.[2] ?? '', rule });
    } else steps.push({ ...where, verdict: rest.trim() });
  }
  return steps;
}
