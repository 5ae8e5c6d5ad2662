/**
 * Host facts, in one place: what derived settings (config/derive.ts) and backend detection
 * need to know about the machine. `localHostFacts` for the namespace this process runs in (its
 * addresses as upstream reads them: interface-addresses.ts), `netnsHostFacts` for another one
 * (its addresses from `ip -o addr show`), and the kernel's
 * list of legacy tables, which tells whether legacy iptables can hold rules there.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { HostFacts } from '../config/derive.js';
import { CommandFailedError } from '../errors.js';
import type { IpFamily } from '../model/family.js';
import type { CommandRunner } from './command.js';
import { kernelInterfaceAddresses } from './interface-addresses.js';
import { isEntered } from './netns.js';

/**
 * A file's text, read synchronously: the files are small (resolv.conf, /etc/passwd), and the
 * first asynchronous read would start libuv's thread pool, which costs a run more than the read.
 */
export async function readTextFile(path: string): Promise<string> {
  return readFileSync(path, 'utf8');
}

/** Looks a user up in /etc/passwd (`name:x:uid:…`), as Go's os/user does without cgo. */
async function lookupUserIdInPasswd(name: string, passwdPath = '/etc/passwd'): Promise<number | undefined> {
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
        const { processRunner } = await import('./process-runner.js');
        return ipAddrShow(processRunner);
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

/**
 * The legacy table list of the namespace a real run works in, asked inside its lock: read in
 * the namespace itself where this process has entered it (the native helper), else as
 * `legacyTablesIn` can tell from outside.
 */
export function runLegacyTables(netnsPath: string | undefined): (family: IpFamily) => boolean | undefined {
  return netnsPath && !isEntered(netnsPath) ? legacyTablesIn(netnsPath) : localLegacyTables;
}

/** `2: eth0    inet 192.0.2.2/24 brd …` → `192.0.2.2`, IPv4 first as the kernel's dump lists them. */
export function parseIpAddrShow(text: string): string[] {
  const entries = text.split('\n').flatMap((line) => {
    const match = /\s(inet6?)\s+([0-9a-fA-F:.]+)\//.exec(line);
    return match ? [{ v6: match[1] === 'inet6', address: match[2] ?? '' }] : [];
  });
  return [...entries.filter((e) => !e.v6), ...entries.filter((e) => e.v6)].map((e) => e.address);
}

/** Every address `ip -o addr show` lists, in the kernel's order (IPv4 first). */
async function ipAddrShow(runner: CommandRunner): Promise<string[]> {
  const result = await runner.run({ file: 'ip', args: ['-o', 'addr', 'show'] });
  if (result.exitCode !== 0) throw new CommandFailedError(['ip', '-o', 'addr', 'show'], result.exitCode, result.stderr);
  return parseIpAddrShow(result.stdout);
}

export function netnsHostFacts(local: HostFacts, runner: CommandRunner): HostFacts {
  return { ...local, interfaceAddresses: () => ipAddrShow(runner) };
}
