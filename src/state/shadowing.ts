/**
 * Foreign rules that end a built-in chain's walk before it reaches our jump (failure mode 22):
 * traffic they match never sees the capture. Found in the state a run reads anyway.
 */
import { isOwnedChain } from '../model/chains.js';
import type { NetfilterState } from './save-parser.js';

/** Targets that end the walk of the chain they are in. */
const TERMINATING = new Set(['RETURN', 'ACCEPT', 'DROP', 'REJECT', 'DNAT', 'SNAT', 'REDIRECT', 'MASQUERADE', 'TPROXY']);

/** `nat OUTPUT: -A OUTPUT -d 198.51.100.0/25 -p tcp -j RETURN`, for each such rule before our first jump. */
export function shadowingRules(live: NetfilterState): string[] {
  const found: string[] = [];
  for (const [table, chains] of live) {
    for (const chain of ['PREROUTING', 'OUTPUT']) {
      const rules = chains.get(chain) ?? [];
      const ours = rules.findIndex((rule) => rule.jumpsTo !== undefined && isOwnedChain(rule.jumpsTo));
      for (const rule of rules.slice(0, Math.max(ours, 0)))
        if (rule.jumpsTo !== undefined && TERMINATING.has(rule.jumpsTo))
          found.push(`${table} ${chain}: ${rule.text.trim()}`);
    }
  }
  return found;
}
