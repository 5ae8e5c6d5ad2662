/**
 * Choosing the iptables backend (legacy or nft) per family, as upstream does: nft is
 * preferred unless legacy already holds rules in this namespace (mixing the two would leave
 * two rule sets that both see every packet). The state read that decides is kept: it is also
 * the state the re-run check needs, so detection costs no extra process.
 */
import { BinaryNotFoundError, NotPrivilegedError } from '../errors.js';
import { FAMILY, type IpFamily } from '../model/family.js';
import { type CommandResult, type CommandRunner, notPrivileged } from './command.js';

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

/**
 * With another namespace, legacy iptables would contend for the host-wide /run/xtables.lock
 * with every other pod; a lock file per namespace avoids that (upstream's CNI mode does the same).
 */
export function lockFileFor(netnsPath: string): string {
  return `/run/xtables-${fnv1a64(netnsPath)}.lock`;
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
      const result = await runner.run({ file: `${binary}-save`, args: [] });
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

  if (options.forced !== 'auto') {
    const binary = `${prefix}-${options.forced}`;
    const result = await save(binary);
    if (!result) throw noBackend(family, tried);
    return backend(binary, options.forced, result.stdout);
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
  if (legacy && hasRules(legacy.stdout)) return backend(`${prefix}-legacy`, 'legacy', legacy.stdout);
  if (nft) return backend(`${prefix}-nft`, 'nft', nft.stdout);
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
  if (options.forced !== 'auto') return options.forced === 'nft' ? nft : undefined;
  if (options.legacyTables !== undefined) return options.legacyTables ? undefined : nft;
  // An unreadable legacy state counts as none, as in detectBackend.
  const legacy = await runner.run({ file: `${FAMILY[family].iptables}-legacy-save`, args: [] }).catch(() => undefined);
  return legacy?.exitCode === 0 && hasRules(legacy.stdout) ? undefined : nft;
}

/** Why no state could be read: no privileges (said plainly), or no usable binary or module. */
function noBackend(family: IpFamily, tried: readonly { binary: string; problem: string }[]): Error {
  const denied = tried.filter(({ problem }) => notPrivileged(problem));
  if (denied.length > 0)
    return new NotPrivilegedError(denied.map(({ binary, problem }) => `${binary}: ${problem}`).join('; '));
  return new BinaryNotFoundError(family, tried);
}
