/** What to tell a user whose namespace holds the other mode's rules (iptables vs --native-nftables). */
import { isIptablesError, type ModeConflictError } from '../errors.js';

/** The flags of the run that removes the other mode's rules, by the mode whose rules are live. */
const CLEANUP_OF = {
  iptables: '--cleanup-only, without --native-nftables',
  nftables: '--cleanup-only --native-nftables',
} as const;

/** The hint line for a ModeConflictError; none for any other error. */
export function modeConflictHints(error: unknown): string[] {
  if (!isIptablesError(error) || error.code !== 'MODE_CONFLICT') return [];
  const { live } = error as ModeConflictError;
  return [`  Remove them first: run the same command once with ${CLEANUP_OF[live]}; then run it again.`];
}
