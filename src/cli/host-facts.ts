/** `HostFacts` for the namespace the process runs in. */
import { readFile } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { HostFacts } from '../config/derive.js';

/** Looks a user up in /etc/passwd (`name:x:uid:…`), as Go's os/user does without cgo. */
/**
 * A file's text. node:fs, not node:fs/promises: a dry run reads at most resolv.conf and
 * /etc/passwd, and loading the promises module would cost it more than both reads.
 */
export function readTextFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => readFile(path, 'utf8', (error, text) => (error ? reject(error) : resolve(text))));
}

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
    const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
    // The kernel lists every IPv4 address before any IPv6 one; upstream relies on that order.
    return [...all.filter((a) => a.family === 'IPv4'), ...all.filter((a) => a.family === 'IPv6')].map((a) => a.address);
  },
  readTextFile,
  lookupUserId: (name) => lookupUserIdInPasswd(name),
};
