/**
 * One run at a time per network namespace. The lock is flock(2) on the namespace's own file
 * (`/var/run/netns/NAME`, `/proc/PID/ns/net`, or `/proc/self/ns/net` for our own), so:
 * - every spelling of a namespace is one lock: they all open the same nsfs inode;
 * - there is no lock file: a read-only or full /run does not matter, and nothing is left behind;
 * - the kernel drops the lock when the last descriptor of it closes, so a killed run holds it no
 *   longer than the children it left running (each command gets the descriptor as its fd 3,
 *   so a restore still running after `kill -9` keeps others out until it is done).
 * node has no flock(2). The native helper (native.ts) calls it, polling while another holds the
 * lock; without the helper, util-linux `flock` takes it on our descriptor, passed as its fd 3:
 * it and we share one open file description, so the lock stays ours when it exits (one short
 * process per run; waiting is its `-w`). Either way the wait is bounded.
 * With the native helper, a run into another namespace also enters it for the work (netns.ts),
 * through the descriptor the lock is on: no nsenter per command.
 * Our lock is always taken before iptables-legacy's xtables lock and never while holding it,
 * and the xtables lock is another file: the two cannot deadlock.
 */
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { CommandFailedError, LockTimeoutError, NamespaceError } from '../errors.js';
import type { CommandRunner } from './command.js';
import { EWOULDBLOCK, errnoName, type NativeHelper, packagedNativeHelper } from './native.js';
import { enterNamespace } from './netns.js';
import { nftLibraryRunner } from './nft-library.js';
import { realSleep } from './retry.js';

/** flock's exit code when it gave up waiting (`-E`); its own errors use others. */
const GAVE_UP = 75;

/** A lock held by this process. */
export interface HeldLock {
  /** The descriptor the lock is on: closing it (or exiting) releases the lock. */
  readonly fd: number;
  /** `st_dev:st_ino` of the locked file: the namespace's identity. */
  readonly identity: string;
  release(): void;
}

function identityOf(stat: { dev: number; ino: number }): string {
  return `${stat.dev}:${stat.ino}`;
}

/** The namespace file a run locks: the one given, or our own. */
export function lockPath(netnsPath: string | undefined): string {
  return netnsPath ?? '/proc/self/ns/net';
}

/** How the lock is taken: the native helper where loaded, else util-linux flock through `runner`. */
export interface LockMeans {
  readonly runner: CommandRunner;
  readonly native?: NativeHelper | undefined;
  /** Waits between tries while another holds the lock (native helper only). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * The means of a real run of an entry point whose real-deps live in `moduleDir`: the packaged
 * native helper where built, which also runs nft's transactions and listings in this process
 * (nft-library.ts); else util-linux and processes, through `runner`.
 */
export function packagedLockMeans(moduleDir: string, runner: CommandRunner): LockMeans {
  const native = packagedNativeHelper(moduleDir);
  return native ? { runner: nftLibraryRunner(native, runner), native } : { runner };
}

/** Pauses between the native helper's tries: short at first, as most runs hold it briefly. */
const RETRY_PAUSES_MS = [2, 5, 10, 20, 50];

/**
 * Takes the exclusive lock on `path`, waiting at most `timeoutMs`.
 * @throws LockTimeoutError naming the processes that hold it, when the wait ran out.
 */
export async function acquireLock(means: LockMeans, path: string, timeoutMs: number, what = path): Promise<HeldLock> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw new NamespaceError(`cannot open ${path} to lock it: ${(cause as Error).message}`, { cause });
  }
  const identity = identityOf(fstatSync(fd));
  try {
    if (means.native) await lockNatively(means.native, means.sleep ?? realSleep, fd, timeoutMs, what, identity);
    else await lockWithFlock(means.runner, fd, timeoutMs, what, identity);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return { fd, identity, release: () => closeSync(fd) };
}

async function lockNatively(
  native: NativeHelper,
  sleep: (ms: number) => Promise<void>,
  fd: number,
  timeoutMs: number,
  what: string,
  identity: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const errno = native.tryLock(fd);
    if (errno === 0) return;
    if (errno !== EWOULDBLOCK) throw new NamespaceError(`cannot lock ${what}: flock: ${errnoName(errno)}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new LockTimeoutError(what, timeoutMs, lockHolders(identity));
    await sleep(Math.min(left, RETRY_PAUSES_MS[Math.min(attempt, RETRY_PAUSES_MS.length - 1)] ?? 50));
  }
}

async function lockWithFlock(
  runner: CommandRunner,
  fd: number,
  timeoutMs: number,
  what: string,
  identity: string,
): Promise<void> {
  const wait = timeoutMs > 0 ? ['-w', String(timeoutMs / 1000)] : ['-n'];
  const command = { file: 'flock', args: ['-x', ...wait, '-E', String(GAVE_UP), '3'], fds: [fd] };
  const result = await runner.run({ ...command, timeoutMs: timeoutMs + 10_000 });
  if (result.exitCode === GAVE_UP) throw new LockTimeoutError(what, timeoutMs, lockHolders(identity));
  if (result.exitCode !== 0)
    throw new CommandFailedError([command.file, ...command.args], result.exitCode, result.stderr);
}

/** A runner whose every command carries the lock's descriptor (as fd 3). */
export function lockedRunner(runner: CommandRunner, lock: HeldLock): CommandRunner {
  return { run: (command) => runner.run({ ...command, fds: [...(command.fds ?? []), lock.fd] }) };
}

/** `/proc/locks` and fdinfo write a device as hex `major:minor`. */
function procDevice(dev: number): string {
  const major = (dev >>> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}

/**
 * The processes (other than us) holding an exclusive flock on the file with this identity,
 * found through their descriptors' fdinfo, which lists the locks held through each. (The pid
 * in /proc/locks is the process that took the lock, which may be gone: our own helper is.)
 * Reads every process's descriptors, so it is only for when a wait ran out.
 */
export function lockHolders(identity: string, proc = '/proc'): { pid: number; command: string }[] {
  const [dev = 0, ino = 0] = identity.split(':').map(Number);
  const line = new RegExp(`^lock:.*FLOCK\\s+ADVISORY\\s+WRITE\\s+\\S+\\s+${procDevice(dev)}:${ino}\\s`, 'm');
  const holders: { pid: number; command: string }[] = [];
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const held = readdirSync(`${proc}/${entry}/fd`).some((fd) => {
        const stat = statSync(`${proc}/${entry}/fd/${fd}`, { throwIfNoEntry: false });
        return stat !== undefined && identityOf(stat) === identity
          ? line.test(readFileSync(`${proc}/${entry}/fdinfo/${fd}`, 'utf8'))
          : false;
      });
      if (held) holders.push({ pid: Number(entry), command: readFileSync(`${proc}/${entry}/comm`, 'utf8').trim() });
    } catch {
      // The process ended meanwhile, or is not ours to look at.
    }
  }
  return holders;
}

/** Whether `path` still names the namespace that was locked (it may have been deleted, or its name reused). */
export function stillNames(path: string, lock: HeldLock): boolean {
  try {
    return identityOf(statSync(path)) === lock.identity;
  } catch {
    return false;
  }
}

/**
 * Runs `work` holding the lock of the namespace at `netnsPath` (ours when undefined), with a
 * runner whose commands carry the lock; released when `work` ends, or when the process does.
 * With the native helper, this process is in that namespace while `work` runs (netns.ts).
 * A path that no longer names the locked namespace when the work ends fails the run: the rules
 * went to a namespace no pod has any more.
 */
export async function withNamespaceLock<T>(
  means: LockMeans,
  netnsPath: string | undefined,
  timeoutMs: number,
  work: (runner: CommandRunner) => Promise<T>,
): Promise<T> {
  const what = netnsPath ? `network namespace ${netnsPath}` : 'this network namespace';
  const lock = await acquireLock(means, lockPath(netnsPath), timeoutMs, what);
  let leave: (() => void) | undefined;
  const wentAway = (detail: string, cause?: unknown) =>
    new NamespaceError(
      `network namespace ${netnsPath} went away during the run (deleted, or the name now names another)${detail}`,
      cause === undefined ? undefined : { cause },
    );
  try {
    if (netnsPath && means.native) leave = enterNamespace(means.native, lock.fd, netnsPath);
    let result: T;
    try {
      result = await work(lockedRunner(means.runner, lock));
    } catch (error) {
      if (netnsPath && !stillNames(netnsPath, lock)) throw wentAway(`: ${(error as Error).message}`, error);
      throw error;
    }
    if (netnsPath && !stillNames(netnsPath, lock)) throw wentAway('');
    return result;
  } finally {
    leave?.();
    lock.release();
  }
}
