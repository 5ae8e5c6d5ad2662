/** Network steps → `ip` argv. */
import type { NetworkStep } from '../plan/routes.js';

export function ipArgs(step: NetworkStep): string[] {
  const family = step.family === 'ipv6' ? ['-6'] : [];
  switch (step.kind) {
    case 'loopbackAddress':
      return [...family, 'addr', 'add', step.address, 'dev', 'lo'];
    case 'policyRule':
      return [...family, 'rule', 'add', 'fwmark', String(step.mark), 'lookup', String(step.table)];
    case 'localRoute':
      return [...family, 'route', 'add', 'local', step.destination, 'dev', 'lo', 'table', String(step.table)];
    default: {
      const never: never = step;
      return never;
    }
  }
}
