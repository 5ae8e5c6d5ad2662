/**
 * Before the first change: every program a run may need is on PATH. A missing `ip` found only
 * after the rules were restored means a rollback; found here, it means nothing was touched.
 * Which iptables backend a run uses is known only after reading the state, so for each one
 * whose state reader is installed its writer must be too (a reader without a writer is a
 * broken install detection might pick). No reader at all is left to detection, which says so.
 */
import { statSync } from 'node:fs';
import { ProgramsMissingError } from '../errors.js';
import type { RunOptions } from '../config/capture-config.js';
import { FAMILY } from '../model/family.js';
import type { CapturePlan } from '../plan/plan-capture.js';

/** Whether `name` is an executable file in one of PATH's directories. */
export function onPath(name: string, path: string): boolean {
  return path.split(':').some((dir) => {
    // A PATH directory this user may not search (a non-root run with capabilities, /root/…)
    // holds nothing it can run.
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(`${dir || '.'}/${name}`, { throwIfNoEntry: false });
    } catch {
      return false;
    }
    // Any execute bit: the run is root, for whom any one suffices.
    return stat?.isFile() === true && (stat.mode & 0o111) !== 0;
  });
}

/**
 * The programs a real run needs, each with what it is needed for. With the native helper
 * (native.ts), the lock and entering --network-namespace need none.
 */
export function neededPrograms(
  plan: CapturePlan,
  options: Pick<RunOptions, 'networkNamespace' | 'iptables'>,
  path: string,
  nativeHelper = false,
): { name: string; why: string }[] {
  const needed: { name: string; why: string }[] = [];
  if (!nativeHelper) {
    needed.push({ name: 'flock', why: "the namespace's run lock (util-linux)" });
    if (options.networkNamespace) needed.push({ name: 'nsenter', why: 'entering --network-namespace (util-linux)' });
  }
  if (plan.network.length > 0) needed.push({ name: 'ip', why: 'the TPROXY route and ::6 on lo (iproute2)' });
  for (const { family } of plan.rulesets) {
    const prefix = FAMILY[family].iptables;
    const candidates =
      options.iptables === 'auto' ? [`${prefix}-legacy`, `${prefix}-nft`, prefix] : [`${prefix}-${options.iptables}`];
    for (const binary of candidates) {
      if (options.iptables === 'auto' && !onPath(`${binary}-save`, path)) continue;
      // With detection, the reader was just found: only its writer is left to look for.
      if (options.iptables !== 'auto') needed.push({ name: `${binary}-save`, why: `the ${family} rules (iptables)` });
      needed.push({ name: `${binary}-restore`, why: `the ${family} rules (iptables)` });
    }
  }
  return needed;
}

/** @throws ProgramsMissingError listing every needed program not on PATH. */
export function checkPrograms(
  plan: CapturePlan,
  options: Pick<RunOptions, 'networkNamespace' | 'iptables'>,
  nativeHelper = false,
  path = process.env.PATH ?? '',
): void {
  const missing = neededPrograms(plan, options, path, nativeHelper).filter(({ name }) => !onPath(name, path));
  if (missing.length > 0) throw new ProgramsMissingError(missing, path);
}
