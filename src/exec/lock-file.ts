/** The legacy xtables lock file a run in another namespace uses, and its removal. */
import { existsSync, rmSync } from 'node:fs';

/**
 * With another namespace, legacy iptables would contend for the host-wide /run/xtables.lock
 * with every other pod; a lock file per namespace avoids that (upstream's CNI mode does the same).
 */
export function lockFileFor(netnsPath: string): string {
  return `/run/xtables-${fnv1a64(netnsPath)}.lock`;
}

/**
 * Removes the namespace's legacy lock file once the run is over (legacy's commands have
 * ended): one per pod namespace would otherwise pile up in /run on a CNI node. Nothing but our runs for
 * that namespace uses the file, and those are meant to take turns (the per-namespace run
 * lock): one waiting on it right now would lock a removed file.
 */
export function removeLockFile(netnsPath: string): void {
  const file = lockFileFor(netnsPath);
  if (existsSync(file)) rmSync(file, { force: true });
}

/**
 * 64-bit FNV-1a of the UTF-8 bytes, as 16 hex digits: a stable name, no secret to keep (two paths
 * sharing a lock only wait for each other). Not node:crypto, whose loading costs
 * a run more than its whole dry run (bench/RESULTS.md).
 */
export function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text)) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return hash.toString(16).padStart(16, '0');
}
