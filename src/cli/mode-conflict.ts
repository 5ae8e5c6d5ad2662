/** What to tell a user whose namespace holds the iptables mode's rules when --native-nftables runs. */
import type { IptablesError } from '../errors.js';

/** The hint line for a ModeConflictError; none for any other error. */
export function modeConflictHints(error: IptablesError): string[] {
  if (error.code !== 'MODE_CONFLICT') return [];
  return [
    '  Remove them first: run the same command once with --cleanup-only and without --native-nftables (it removes ours from both iptables backends); then run it again.',
  ];
}
