/**
 * Copies of our rules in the other iptables backend (left when the backend choice changed
 * between runs): how they are described, removed (`--migrate`, cleanup) and checked gone.
 */
import { ConflictError, VerifyError } from '../errors.js';
import { isOwnedChain } from '../model/chains.js';
import type { CanonicalOptions } from '../state/canonical.js';
import { hasOwnedState } from '../state/compare.js';
import { stateOf } from '../state/save-parser.js';
import { cleanupPayload } from '../state/transactions.js';
import { type Iptables, parseLive } from './iptables.js';
import type { FamilyRun } from './transaction.js';

/** `ipv4 nft: nat ISTIO_INBOUND, ISTIO_OUTPUT; mangle …` */
export function describeCopy(copy: FamilyRun): string {
  const tables = [...copy.live].flatMap(([table, chains]) => {
    const owned = [...chains.keys()].filter(isOwnedChain);
    return owned.length > 0 ? [`${table} ${owned.join(', ')}`] : [];
  });
  return `${copy.ruleset.family} ${copy.backend.variant} (${copy.backend.binary}-save): ${tables.join('; ') || 'jumps into our chains'}`;
}

/** The transaction items that remove copies of ours from the other backend. */
export function removeCopies(copies: readonly FamilyRun[]) {
  return copies.map((run) => ({ run, payload: cleanupPayload(run.live, run.expected) }));
}

/** Reads a backend a copy was removed from, and fails unless nothing of ours is left there. */
export async function verifyRemoved(run: FamilyRun, iptables: Iptables, canonical?: CanonicalOptions): Promise<void> {
  const live = stateOf(parseLive(await iptables.save(run.backend), run.backend, canonical));
  if (hasOwnedState(live))
    throw new VerifyError(run.ruleset.family, [
      `${run.backend.variant}: rules of ours are still live after removing them`,
    ]);
}

/**
 * The native-nftables mode's live `tables`, to be removed after this run's rules are in (when
 * `remove`: a migration or a cleanup); otherwise a ConflictError when there are any.
 */
export function nativeTablesToRemove(tables: string[], remove: boolean): string[] {
  if (tables.length > 0 && !remove)
    throw new ConflictError(
      'other-copy',
      "tables of Istio's native-nftables mode are live: they and this run's iptables rules would both capture traffic. Nothing was changed. Found:",
      tables,
    );
  return tables;
}
