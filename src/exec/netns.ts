/**
 * Working inside another network namespace. Every command is wrapped in
 * `nsenter --net=PATH` (util-linux), which enters only the network namespace: the filesystem,
 * and so the binaries and /etc, stay ours, as for a CNI agent on the node.
 */
import { statfsSync } from 'node:fs';
import { NamespaceError } from '../errors.js';
import type { Command, CommandRunner } from './command.js';

/** statfs(2) f_type of nsfs, the filesystem of namespace files. */
const NSFS_MAGIC = 0x6e736673;

export function inNetns(command: Command, netnsPath: string): Command {
  return { ...command, file: 'nsenter', args: [`--net=${netnsPath}`, '--', command.file, ...command.args] };
}

/** A runner whose every command runs in the namespace (or as is, without one). */
export function netnsRunner(runner: CommandRunner, netnsPath: string | undefined): CommandRunner {
  if (!netnsPath) return runner;
  return { run: (command) => runner.run(inNetns(command, netnsPath)) };
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
