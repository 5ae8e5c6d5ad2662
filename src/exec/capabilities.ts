/**
 * Privileges decided from what the kernel says this process may do — its effective
 * capabilities (`CapEff` in /proc/self/status) — not from being root: an init container runs
 * as root with only NET_ADMIN and NET_RAW, and upstream once ran as uid 1337 with both.
 * One small file read, no process.
 */
import { readFileSync } from 'node:fs';

/** The capabilities a run needs, by their bit in the kernel's mask (linux/capability.h). */
export const CAPABILITY_BITS = { NET_ADMIN: 12, NET_RAW: 13, SYS_ADMIN: 21 } as const;
export type Capability = keyof typeof CAPABILITY_BITS;

/** What this process holds of the capabilities a run needs, and its uid. */
export interface Privileges {
  readonly uid: number | undefined;
  readonly held: ReadonlySet<Capability>;
}

/** Parses /proc/self/status text (`Uid:` and `CapEff:` lines). */
export function privilegesFrom(status: string): Privileges {
  const capEff = /^CapEff:\s*([0-9a-f]+)$/im.exec(status)?.[1];
  const uid = /^Uid:\s*\d+\s+(\d+)/m.exec(status)?.[1];
  const mask = capEff === undefined ? 0n : BigInt(`0x${capEff}`);
  const held = new Set(
    (Object.keys(CAPABILITY_BITS) as Capability[]).filter((cap) => (mask >> BigInt(CAPABILITY_BITS[cap])) & 1n),
  );
  return { uid: uid === undefined ? undefined : Number(uid), held };
}

/** This process's privileges; undefined where /proc cannot tell (then commands will say). */
export function ownPrivileges(statusPath = '/proc/self/status'): Privileges | undefined {
  try {
    return privilegesFrom(readFileSync(statusPath, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The capabilities a run needs: SYS_ADMIN too when it enters another network namespace (setns). */
export function neededCapabilities(networkNamespace: boolean): Capability[] {
  return networkNamespace ? ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN'] : ['NET_ADMIN', 'NET_RAW'];
}

/** `uid 1337, holding CAP_NET_ADMIN, CAP_NET_RAW` — how a privileges message describes the process. */
export function describePrivileges(privileges: Privileges, needed: readonly Capability[]): string {
  const held = needed.filter((cap) => privileges.held.has(cap)).map((cap) => `CAP_${cap}`);
  const missing = needed.filter((cap) => !privileges.held.has(cap)).map((cap) => `CAP_${cap}`);
  return `uid ${privileges.uid ?? 'unknown'}, holding ${held.join(', ') || 'none'} of the capabilities needed${missing.length > 0 ? `, missing ${missing.join(', ')}` : ''}`;
}

/**
 * Before a run's first command: a NotPrivilegedError when this process lacks CAP_NET_ADMIN
 * (or, to enter another network namespace, CAP_SYS_ADMIN). CAP_NET_RAW is reported, not
 * required: only legacy iptables' raw socket needs it, and a refusal there says so.
 * Nothing is checked where /proc cannot tell.
 */
export function checkPrivileges(
  networkNamespace: boolean,
  fail: (detail: string, networkNamespace: boolean) => Error,
  privileges = ownPrivileges(),
): void {
  if (!privileges) return;
  const required: Capability[] = networkNamespace ? ['NET_ADMIN', 'SYS_ADMIN'] : ['NET_ADMIN'];
  const missing = required.filter((cap) => !privileges.held.has(cap));
  if (missing.length > 0)
    throw fail(
      `Checked before running anything (CapEff in /proc/self/status)${networkNamespace ? '; entering another network namespace (setns) needs CAP_SYS_ADMIN' : ''}.`,
      networkNamespace,
    );
}
