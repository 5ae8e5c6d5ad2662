/**
 * Choosing the iptables backend (legacy or nft) per family, as upstream does: nft is
 * preferred unless legacy already holds rules in this namespace (mixing the two would leave
 * two rule sets that both see every packet). The state read that decides is kept: it is also
 * the state the re-run check needs, so detection costs no extra process.
 */
import { BinaryNotFoundError, ConflictError } from '../errors.js';
import { FAMILY, type IpFamily } from '../model/family.js';
import { type CommandResult, type CommandRunner, notPrivileged, privilegesError } from './command.js';
import { lockFileFor } from './lock-file.js';
import { readSave } from './read-save.js';

/**
 * iptables' exit code for a resource problem, such as the xtables lock being held. Only legacy
 * has that lock; iptables-nft exits 4 when the kernel refuses a commit, which no retry mends.
 */
export const XTABLES_RESOURCE_PROBLEM = 4;

export { fnv1a64, lockFileFor, removeLockFile } from './lock-file.js';

export type Variant = 'legacy' | 'nft';

export interface Backend {
  readonly family: IpFamily;
  readonly variant: Variant;
  /** `iptables-nft`, `ip6tables-legacy`, … */
  readonly binary: string;
  /** Arguments every write command ends with (the xtables lock wait, legacy only). */
  readonly writeSuffix: readonly string[];
  /** Environment for write commands (a namespace-scoped lock file). */
  readonly env: Readonly<Record<string, string>>;
}

export interface Detected {
  readonly backend: Backend;
  /** The save output read during detection: the live state. */
  readonly state: string;
  /**
   * The other backend and its state, when it could be read and holds chains of ours: a copy
   * left by an earlier run, which would keep capturing beside this run's (see apply.ts).
   */
  readonly other?: { readonly backend: Backend; readonly state: string };
}

/** Seconds iptables waits for the xtables lock, as upstream passes it. */
const LOCK_WAIT_SECONDS = 30;

/** "Has rules": a rule or an owned chain, not just the empty tables a probe leaves behind. */
function hasRules(save: string): boolean {
  return /^(-A |:ISTIO_)/m.test(save);
}

function versionOf(text: string): number[] | undefined {
  const match = /v(\d+)\.(\d+)\.(\d+)/.exec(text);
  return match ? match.slice(1).map(Number) : undefined;
}

/** `--wait` exists from iptables 1.6.2 on (upstream's threshold). */
function supportsWait(version: readonly number[]): boolean {
  const [a = 0, b = 0, c = 0] = version;
  return a > 1 || (a === 1 && (b > 6 || (b === 6 && c >= 2)));
}

export interface DetectOptions {
  readonly forced: 'auto' | Variant;
  readonly netnsPath?: string;
  /**
   * Whether legacy iptables has any table in the namespace, when that is known without a
   * process; undefined: read legacy's state to find out. A legacy rule lives in a table, and
   * the kernel lists every legacy table of a namespace in its /proc/net/ip_tables_names (which
   * iptables-legacy-save itself reads): an empty list means legacy holds no rules.
   */
  readonly legacyTables?: boolean;
  /** Seconds legacy iptables waits for its xtables lock (`--wait=N`); upstream's 30 unless given. */
  readonly lockWaitSeconds?: number;
}

export async function detectBackend(
  runner: CommandRunner,
  family: IpFamily,
  options: DetectOptions,
): Promise<Detected> {
  const prefix = FAMILY[family].iptables;
  const tried: { binary: string; problem: string }[] = [];
  const save = async (binary: string): Promise<CommandResult | undefined> => {
    try {
      const result = await readSave(runner, binary);
      if (result.exitCode === 0) return result;
      tried.push({
        binary: `${binary}-save`,
        problem: `exit ${result.exitCode}: ${result.stderr.trim() || 'no output'}`,
      });
    } catch (error) {
      tried.push({ binary: `${binary}-save`, problem: (error as Error).message });
    }
    return undefined;
  };
  const backend = async (binary: string, variant: Variant, state: string): Promise<Detected> => {
    let writeSuffix: string[] = [];
    if (variant === 'legacy') {
      const version = versionOf(state) ??
        versionOf((await runner.run({ file: `${binary}-save`, args: ['--version'] })).stdout) ?? [0, 0, 0];
      if (supportsWait(version)) writeSuffix = [`--wait=${options.lockWaitSeconds ?? LOCK_WAIT_SECONDS}`];
    }
    const env = variant === 'legacy' && options.netnsPath ? { XTABLES_LOCKFILE: lockFileFor(options.netnsPath) } : {};
    return { backend: { family, variant, binary, writeSuffix, env }, state };
  };

  const withOther = async (chosen: Detected, variant: Variant, state: string | undefined): Promise<Detected> => {
    // Only a state with chains of ours is of interest (and only then is legacy's version asked).
    if (state === undefined || !/^:ISTIO_/m.test(state)) return chosen;
    const other = await backend(`${prefix}-${variant}`, variant, state);
    return { ...chosen, other: { backend: other.backend, state } };
  };
  if (options.forced !== 'auto') {
    const binary = `${prefix}-${options.forced}`;
    const result = await save(binary);
    if (!result) throw noBackend(family, tried);
    const chosen = await backend(binary, options.forced, result.stdout);
    // The other backend may still hold a copy of ours; legacy cannot when it has no tables.
    const otherVariant = options.forced === 'nft' ? 'legacy' : 'nft';
    if (otherVariant === 'legacy' && options.legacyTables === false) return chosen;
    const other = await readSave(runner, `${prefix}-${otherVariant}`).catch(() => undefined);
    return withOther(chosen, otherVariant, other?.exitCode === 0 ? other.stdout : undefined);
  }
  // Both reads, independent (a runner may run them at once): one of them is the state, and
  // neither changes anything. The problems of failed reads are listed in this order whichever
  // finishes first. Without legacy tables, legacy's state is read only if nft cannot be.
  const [legacy, nft] =
    options.legacyTables === false
      ? await save(`${prefix}-nft`).then(
          async (read) => [read ? undefined : await save(`${prefix}-legacy`), read] as const,
        )
      : await Promise.all([save(`${prefix}-legacy`), save(`${prefix}-nft`)]);
  const order = [`${prefix}-legacy-save`, `${prefix}-nft-save`];
  tried.sort((a, b) => order.indexOf(a.binary) - order.indexOf(b.binary));
  const legacyDenied = tried.find(
    ({ binary, problem }) => binary === `${prefix}-legacy-save` && notPrivileged(problem),
  );
  if (nft && legacyDenied)
    throw new ConflictError(
      'legacy-unreadable',
      `${family}: legacy iptables' state cannot be read by this process, so whether legacy holds rules (which would make it the backend to use) is unknown; nft is not chosen blindly. Nothing was changed. ${privilegesError('').message.replace(/^not permitted to change netfilter rules: /, '')}`,
      [`${legacyDenied.binary}: ${legacyDenied.problem}`],
    );
  if (legacy && hasRules(legacy.stdout))
    return withOther(await backend(`${prefix}-legacy`, 'legacy', legacy.stdout), 'nft', nft?.stdout);
  if (nft) return withOther(await backend(`${prefix}-nft`, 'nft', nft.stdout), 'legacy', legacy?.stdout);
  if (legacy) return backend(`${prefix}-legacy`, 'legacy', legacy.stdout);
  // Distributions that ship only the plain name: ask it which backend it is.
  const plain = await save(prefix);
  if (plain) {
    const version = await runner.run({ file: `${prefix}-save`, args: ['--version'] }).catch(() => undefined);
    return backend(prefix, /nf_tables/.test(version?.stdout ?? plain.stdout) ? 'nft' : 'legacy', plain.stdout);
  }
  throw noBackend(family, tried);
}

/**
 * The nft backend, when detection would choose it whatever nft's own state holds: forced, or
 * legacy holds no rules (known from the kernel, or from legacy's state read, which this
 * reads). Undefined when legacy holds rules or is forced. Lets a first run restore before
 * reading (exec/first-run.ts).
 */
export async function nftWithoutItsState(
  runner: CommandRunner,
  family: IpFamily,
  options: DetectOptions,
): Promise<Backend | undefined> {
  const nft: Backend = { family, variant: 'nft', binary: `${FAMILY[family].iptables}-nft`, writeSuffix: [], env: {} };
  if (options.forced === 'legacy') return undefined;
  if (options.legacyTables === false) return nft;
  // Forced, legacy's state tells whether it holds a copy of ours, which the careful way must see.
  if (options.forced === 'nft') {
    const legacy = await runner
      .run({ file: `${FAMILY[family].iptables}-legacy-save`, args: [] })
      .catch(() => undefined);
    return legacy?.exitCode === 0 && /^:ISTIO_/m.test(legacy.stdout) ? undefined : nft;
  }
  if (options.legacyTables === true) return undefined;
  // An unreadable legacy state counts as none, as in detectBackend.
  const legacy = await readSave(runner, `${FAMILY[family].iptables}-legacy`).catch(() => undefined);
  // Refused for lack of privileges: the careful way's detection says so.
  if (legacy && legacy.exitCode !== 0 && notPrivileged(legacy.stderr)) return undefined;
  return legacy?.exitCode === 0 && hasRules(legacy.stdout) ? undefined : nft;
}

/** Why no state could be read: no privileges (said plainly), or no usable binary or module. */
function noBackend(family: IpFamily, tried: readonly { binary: string; problem: string }[]): Error {
  const denied = tried.filter(({ problem }) => notPrivileged(problem));
  if (denied.length > 0)
    return privilegesError(denied.map(({ binary, problem }) => `${binary}: ${problem}`).join('; '));
  return new BinaryNotFoundError(family, tried);
}
