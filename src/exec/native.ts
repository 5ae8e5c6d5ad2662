/**
 * The native helper (src/native/netns.c): flock(2), setns(2), a netlink dump of nftables
 * table names, nft's library and posix_spawn(3), which node does not offer. With it, a run
 * takes its namespace's lock, enters --network-namespace, looks for the native-nftables mode's
 * tables and runs its nft transactions and listings without starting a process for any, and
 * starts the processes it does need at about half node's cost; without it (not built: no C compiler where the package was built, or
 * turned off), util-linux's `flock` and `nsenter` and `nft list tables` do the same, one process each
 * (bench/RESULTS.md). Behaviour is the same either way; only the processes differ.
 */
import { join } from 'node:path';

/** What the helper offers; each returns 0 or an errno number. */
export interface NativeHelper {
  /** flock(fd, LOCK_EX | LOCK_NB): 0 when taken, EWOULDBLOCK while another holds it. */
  tryLock(fd: number): number;
  /** setns(fd, CLONE_NEWNET) for node's main thread: the processes it starts begin there. */
  enterNet(fd: number): number;
  /** The names of the nftables tables of one family (NFPROTO_*) in this namespace, or errno. */
  tableNames(family: number): string[] | number;
  /**
   * What nft does with `text`, run in this process (libnftables): with `asFile`, as the input of
   * `nft -f` (one atomic batch); otherwise as a command line (`list ruleset`). Gives
   * [exit code as nft's, stdout, stderr, the name nft's messages give the input], or an errno
   * when nothing ran (ELIBACC: libnftables is not installed).
   */
  nft(text: string, asFile: boolean): [exitCode: number, stdout: string, stderr: string, inputName: string] | number;
  /**
   * Runs a program as node's spawnSync does, with posix_spawn (no copy of node's page tables):
   * `args` from argv[0], `env` as `KEY=value`, stdin from `input` (none: /dev/null), `fds` as
   * its fds 3, 4, …, SIGKILL after `timeoutMs`. Gives [exit code (-1 when signalled), signal
   * number (0: none), stdout, stderr, errno: 0, ETIMEDOUT, EPIPE, or another when the run went
   * wrong after its start], or the errno that kept it from starting (ENOENT: no such program on
   * the environment's PATH).
   */
  spawn(
    file: string,
    args: readonly string[],
    env: readonly string[],
    input: string | null,
    fds: readonly number[],
    timeoutMs: number,
  ): [exitCode: number, signal: number, stdout: string, stderr: string, errno: number] | number;
}

/** flock's "held by another" (EWOULDBLOCK, which is EAGAIN on Linux). */
export const EWOULDBLOCK = 11;

/** Set to `0` to leave the helper unused: the run starts flock and nsenter instead. */
export const NATIVE_ENV = 'ISTIO_IPTABLES_NATIVE';

/**
 * Loads the helper from `path`; undefined when it is not there, cannot be loaded (another
 * machine's build), or is turned off by ISTIO_IPTABLES_NATIVE=0.
 */
export function loadNativeHelper(path: string, env = process.env): NativeHelper | undefined {
  if (env[NATIVE_ENV] === '0') return undefined;
  const module = { exports: {} as Partial<NativeHelper> };
  try {
    process.dlopen(module, path);
  } catch {
    return undefined;
  }
  const { tryLock, enterNet, tableNames, nft, spawn } = module.exports;
  return typeof tryLock === 'function' &&
    typeof enterNet === 'function' &&
    typeof tableNames === 'function' &&
    typeof nft === 'function' &&
    typeof spawn === 'function'
    ? { tryLock, enterNet, tableNames, nft, spawn }
    : undefined;
}

let loaded: { helper: NativeHelper | undefined } | undefined;

/**
 * The helper as built for the package: `native/netns.node` one directory up from `moduleDir`
 * (an entry point's real-deps: dist/cli, dist/cni, or their bundles' directories), loaded
 * once, at a real run's first need.
 */
export function packagedNativeHelper(moduleDir: string): NativeHelper | undefined {
  loaded ??= { helper: loadNativeHelper(join(moduleDir, '../native/netns.node')) };
  return loaded.helper;
}

/** errno numbers the helper returns, named as node names them (for messages). */
export function errnoName(errno: number): string {
  return process.getBuiltinModule('node:util').getSystemErrorName(-errno);
}
