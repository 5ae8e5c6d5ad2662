import { NotPrivilegedError } from '../errors.js';
import { describePrivileges, neededCapabilities, ownPrivileges } from './capabilities.js';

/**
 * The one seam to processes. A `Command` is a value; a `CommandRunner` runs it and returns
 * data, throwing only when the process could not be started at all.
 */

export interface Command {
  readonly file: string;
  readonly args: readonly string[];
  /** Written to the process's stdin (restore payloads: never a temp file). */
  readonly input?: string;
  /** Extra environment variables, added to the inherited environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long the process may run before it is killed; the runner's own bound otherwise. */
  readonly timeoutMs?: number;
  /**
   * Open descriptors the process gets as its fds 3, 4, …: the namespace lock's descriptor,
   * so that a child left running after the tool is killed holds the lock until it ends.
   */
  readonly fds?: readonly number[];
}

/** The environment a command runs with: ours, with its own variables added. */
export function environmentOf(command: Command): Record<string, string | undefined> {
  return command.env ? { ...process.env, ...command.env } : process.env;
}

/** The same as the `KEY=value` list a spawn takes. */
export function environmentPairs(command: Command): string[] {
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(environmentOf(command)))
    if (value !== undefined) pairs.push(`${key}=${value}`);
  return pairs;
}

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandRunner {
  run(command: Command): Promise<CommandResult>;
}

/** How iptables, ip and the kernel say that the caller lacks the privileges (CAP_NET_ADMIN). */
const NOT_PERMITTED = /Permission denied|you must be root|Operation not permitted/i;

/**
 * The one place a command's complaint becomes "no privileges": a NotPrivilegedError when
 * `stderr` says the caller may not change netfilter or routing state, otherwise undefined.
 */
export function notPrivileged(stderr: string): NotPrivilegedError | undefined {
  return NOT_PERMITTED.test(stderr) ? privilegesError(stderr.trim()) : undefined;
}

/**
 * A NotPrivilegedError for `detail`, saying which needed capabilities this process holds
 * (read only now, on the failure path). SYS_ADMIN counts when a refusal names nsenter.
 */
export function privilegesError(detail: string, networkNamespace = /nsenter|setns|reassociate/.test(detail)) {
  const privileges = ownPrivileges();
  if (!privileges) return new NotPrivilegedError(detail);
  const needed = neededCapabilities(networkNamespace);
  return new NotPrivilegedError(detail, {
    description: describePrivileges(privileges, needed),
    missing: needed.filter((cap) => !privileges.held.has(cap)).map((cap) => `CAP_${cap}`),
  });
}
