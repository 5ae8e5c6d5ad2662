/** A walk's outcome in words. */
import type { RuleOrigin } from '../model/netfilter.js';
import type { Connection } from './packet.js';
import type { Walk } from './walk.js';

/** The ports the proxy and agent listen on, to name where a redirect goes. */
export interface ListenerPorts {
  readonly outbound: number;
  readonly inbound: number;
  readonly dns: number;
}

/** `10.0.0.5:80`, `[2001:db8::5]:80`. */
export function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function listener(port: number, ports: ListenerPorts): string {
  if (port === ports.outbound) return `the proxy's outbound listener ${port}`;
  if (port === ports.inbound) return `the proxy's inbound listener ${port}`;
  if (port === ports.dns) return `the agent's DNS proxy ${port}`;
  return `port ${port}`;
}

function because(origin: RuleOrigin | undefined): string {
  if (!origin) return '';
  return origin.setting.startsWith('(') ? `: ${origin.why}` : `: ${origin.why} (\`${origin.setting}\`)`;
}

function original(c: Connection): string {
  return endpoint(c.destination.text, c.destinationPort);
}

/**
 * The setting behind a capture: the innermost jump that a setting produced (`-i *` jumping to
 * ISTIO_REDIRECT says more than the REDIRECT rule, which only names the listener port).
 */
function reasonOfCapture(walk: Walk): RuleOrigin | undefined {
  const jumps = walk.decidedBy.via.filter((step) => step.origin && !step.origin.setting.startsWith('('));
  return jumps[jumps.length - 1]?.origin ?? walk.decidedBy.origin;
}

/** One sentence: what happens to the connection, and which setting made it so. */
export function describeOutcome(walk: Walk, ports: ListenerPorts): string {
  const c = walk.connection;
  const by = walk.decidedBy;
  switch (walk.outcome) {
    case 'redirect':
      return (
        `captured: redirected to ${listener(walk.toPort ?? 0, ports)} ` +
        `(original destination ${original(c)} kept for SO_ORIGINAL_DST)` +
        because(reasonOfCapture(walk))
      );
    case 'tproxy':
      return (
        `delivered to ${listener(walk.toPort ?? 0, ports)} by TPROXY, source address preserved ` +
        `(destination ${original(c)} unchanged, mark 0x${walk.final.mark.toString(16)})`
      );
    case 'drop':
      return `dropped by ${by.table} ${by.chain}${because(by.origin)}`;
    case 'accept':
      if (by.policy) {
        // `-P OUTPUT ACCEPT` (iptables) or `policy accept` (nftables).
        const policy = by.rule.startsWith('-P ') ? `policy ${by.rule.split(' ')[2]}` : by.rule;
        return `passes untouched: no rule captures it (${by.table} ${by.chain} ${policy})`;
      }
      return `passes untouched${because(by.origin) || `: ${by.table} ${by.chain} lets it pass`}`;
    default: {
      const never: never = walk.outcome;
      return never;
    }
  }
}
