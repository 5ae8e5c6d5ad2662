/** The fixes the CLI adds to an error's message, in flag names (only the CLI knows them). */
import type { ConflictError, IptablesError, RestoreFailedError } from '../errors.js';

/** What to do about a conflict, in flag names (only the CLI knows them). */
export function fixes(error: IptablesError): string[] {
  if (error.code === 'RESTORE_FAILED') return restoreFix(error as RestoreFailedError);
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

/** A legacy table that could not be initialized: whether nft would have done. */
function restoreFix(error: RestoreFailedError): string[] {
  if (error.otherBackendWorks === undefined) return [];
  return error.otherBackendWorks
    ? ['  The nft backend can open that table here: --force-iptables-binary nft uses it (or load the legacy module).']
    : ['  The nft backend cannot open that table here either: load the modules named above.'];
}
