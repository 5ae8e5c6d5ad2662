/**
 * Working inside another network namespace. Either this process enters it for the run (the
 * native helper's setns: the commands it starts begin there), or every command is wrapped in
 * `nsenter --net=PATH` (util-linux). Both enter only the network namespace: the filesystem,
 * and so the binaries and /etc, stay ours, as for a CNI agent on the node.
 */
import { closeSync, openSync, statfsSync, statSync } from 'node:fs';
import { NamespaceError } from '../errors.js';
import { type Command, type CommandRunner, privilegesError } from './command.js';
import { errnoName, type NativeHelper } from './native.js';

/** statfs(2) f_type of nsfs, the filesystem of namespace files. */
const NSFS_MAGIC = 0x6e736673;

export function inNetns(command: Command, netnsPath: string): Command {
  return { ...command, file: 'nsenter', args: [`--net=${netnsPath}`, '--', command.file, ...command.args] };
}

/**
 * A runner whose every command runs in the namespace (or as is, without one): through nsenter,
 * unless this process is in that namespace when the command starts.
 */
export function netnsRunner(runner: CommandRunner, netnsPath: string | undefined): CommandRunner {
  if (!netnsPath) return runner;
  return { run: (command) => runner.run(isEntered(netnsPath) ? command : inNetns(command, netnsPath)) };
}

/**
 * Whether this process (node's main thread, which starts every command) is in the namespace at
 * `netnsPath`, by the kernel's word: the same nsfs inode. Asked of the kernel rather than kept,
 * because the lazily loaded parts of the bundle each carry their own copy of this module.
 */
export function isEntered(netnsPath: string): boolean {
  const here = statSync('/proc/thread-self/ns/net', { throwIfNoEntry: false });
  const there = statSync(netnsPath, { throwIfNoEntry: false });
  return here !== undefined && there !== undefined && here.dev === there.dev && here.ino === there.ino;
}

/**
 * Moves this process (node's main thread, which starts every command) into the namespace open
 * on `fd`, known as `netnsPath`, and returns the way back.
 * @throws NotPrivilegedError when setns(2) is refused (it needs CAP_SYS_ADMIN, as nsenter does);
 *   NamespaceError when `fd` is not a network namespace
 */
export function enterNamespace(native: NativeHelper, fd: number, netnsPath: string): () => void {
  const home = openSync('/proc/thread-self/ns/net', 'r');
  const errno = native.enterNet(fd);
  if (errno !== 0) {
    closeSync(home);
    const detail = `setns into network namespace ${netnsPath}: ${errnoName(errno)}`;
    if (errnoName(errno) === 'EPERM') throw privilegesError(detail);
    throw new NamespaceError(`cannot enter network namespace ${netnsPath}: ${errnoName(errno)}`);
  }
  return () => {
    try {
      native.enterNet(home);
    } finally {
      closeSync(home);
    }
  };
}

/** Fails before anything runs when the path is not a network namespace file. */
export async function checkNetnsPath(path: string): Promise<void> {
  let type: number;
  try {
    // Synchronous: one quick system call, and the first asynchronous one would start libuv's
    // thread pool, which costs a run more than the call itself.
    type = statfsSync(path).type;
  } catch (cause) {
    throw new NamespaceError(`network namespace ${path} is not available: ${(cause as Error).message}`, { cause });
  }
  if (type !== NSFS_MAGIC) {
    throw new NamespaceError(
      `${path} is not a network namespace file (expected /var/run/netns/NAME or /proc/PID/ns/net)`,
    );
  }
}
