/** `HostFacts` for the namespace the process runs in. */
import { existsSync, readFileSync } from 'node:fs';
import type { HostFacts } from '../config/derive.js';
import type { IpFamily } from '../model/family.js';
import { CommandFailedError } from '../errors.js';
import { kernelInterfaceAddresses } from './interface-addresses.js';

/**
 * A file's text, read synchronously: the files are small (resolv.conf, /etc/passwd), and the
 * first asynchronous read would start libuv's thread pool, which costs a run more than the read.
 */
export async function readTextFile(path: string): Promise<string> {
  return readFileSync(path, 'utf8');
}

/** Looks a user up in /etc/passwd (`name:x:uid:…`), as Go's os/user does without cgo. */
export async function lookupUserIdInPasswd(name: string, passwdPath = '/etc/passwd'): Promise<number | undefined> {
  const text = await readTextFile(passwdPath);
  for (const line of text.split('\n')) {
    const [user, , uid] = line.split(':');
    if (user === name && uid !== undefined && /^[0-9]+$/.test(uid)) return Number(uid);
  }
  return undefined;
}

export const localHostFacts: HostFacts = {
  async interfaceAddresses() {
    // node:os only when asked: a run with --enable-inbound-ipv6 given never asks.
    const { networkInterfaces } = await import('node:os');
    return kernelInterfaceAddresses({
      nodeInterfaces: networkInterfaces,
      readProc: (path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined),
      ipAddrShow: async () => {
        const { processRunner } = await import('../exec/process-runner.js');
        const result = await processRunner.run({ file: 'ip', args: ['-o', 'addr', 'show'] });
        if (result.exitCode !== 0)
          throw new CommandFailedError(['ip', '-o', 'addr', 'show'], result.exitCode, result.stderr);
        return result.stdout;
      },
    });
  },
  readTextFile,
  lookupUserId: (name) => lookupUserIdInPasswd(name),
};

/** The kernel's list of a namespace's legacy tables: it exists, in every namespace, while legacy iptables is loaded. */
const tableNames = (family: IpFamily, procNet: string) => `${procNet}/${family === 'ipv4' ? 'ip' : 'ip6'}_tables_names`;

/**
 * Whether legacy iptables has a table in the namespace this process runs in, from the kernel's
 * list of them (absent while the module is not loaded: no tables); undefined when unreadable.
 */
export function localLegacyTables(family: IpFamily, procNet = '/proc/net'): boolean | undefined {
  try {
    return readFileSync(tableNames(family, procNet), 'utf8').trim() !== '';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? false : undefined;
  }
}

/**
 * The same for the namespace at `netnsPath`, as far as this one can tell without a process
 * there. A process's namespace (`/proc/PID/ns/net`) has its list at /proc/PID/net. For any
 * other (a bind mount such as /var/run/netns/NAME): none when legacy iptables is not loaded in
 * the kernel (the list is missing here too), otherwise undefined, which leaves reading legacy's
 * state there to tell.
 */
export function legacyTablesIn(netnsPath: string, proc = '/proc'): (family: IpFamily) => boolean | undefined {
  const pid = /^\/proc\/(\d+)\/ns\/net$/.exec(netnsPath)?.[1];
  if (pid !== undefined) return (family) => localLegacyTables(family, `${proc}/${pid}/net`);
  return (family) => (existsSync(tableNames(family, `${proc}/net`)) ? undefined : false);
}
