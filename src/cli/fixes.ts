/** The fixes the CLI adds to an error's message, in flag names (only the CLI knows them). */
import type { ConflictError, IptablesError } from '../errors.js';

/** What to do about a conflict, in flag names (only the CLI knows them). */
export function conflictFix(error: IptablesError): string[] {
  if (error.code !== 'CONFLICT') return [];
  const { kind } = error as ConflictError;
  switch (kind) {
    case 'route-table':
    case 'fwmark':
      return [
        '  Choose a route table no one else uses with -r/--istio-inbound-tproxy-route-table (and a free mark with -t/--istio-inbound-tproxy-mark), or remove what is there.',
      ];
    case 'other-copy':
      return [
        '  Run with --migrate to remove the other copy in the same run, or remove it first (--cleanup-only removes ours from every backend).',
      ];
    case 'legacy-unreadable':
      return ['  Run as root, or force the backend with --force-iptables-binary nft|legacy.'];
    default: {
      const never: never = kind;
      return never;
    }
  }
}
