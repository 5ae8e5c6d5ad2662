/**
 * The pod's addresses as upstream reads them: Go's `net.InterfaceAddrs` lists every address the
 * kernel has, on interfaces that are down or have no carrier too, IPv4 (in interface order)
 * before IPv6. node's `os.networkInterfaces()` skips interfaces that are not up and running, so
 * it is only the start:
 * - IPv6 comes from /proc/net/if_inet6, which lists every IPv6 address of every interface;
 * - IPv4 has no such file, so node's list is used, and when it holds no usable IPv4 address
 *   while an interface it left out exists (one that is down, or without carrier, whose IPv4
 *   addresses node cannot see), the kernel's full list is read with `ip -o addr show`: one
 *   process, only in that case (a pod whose eth0 has no carrier yet, or an IPv6-only pod).
 */
import { detectPodAddress } from '../config/derive.js';
import { parseIpAddress } from '../model/network.js';

/** What the addresses are read from; each read is cheap but the last. */
export interface AddressSources {
  /** node's `os.networkInterfaces()`: interfaces that are up and running. */
  nodeInterfaces(): Readonly<
    Record<string, readonly { readonly family: string; readonly address: string }[] | undefined>
  >;
  /** A /proc file's text, or undefined when it does not exist. */
  readProc(path: string): string | undefined;
  /** Every address, as `ip -o addr show` lists them (IPv4 first). */
  ipAddrShow(): Promise<string[]>;
}

/** /proc/net/if_inet6 lines (`ADDR32HEX IFINDEX PREFIX SCOPE FLAGS NAME`) → addresses in interface order. */
export function parseIfInet6(text: string): string[] {
  const entries = text.split('\n').flatMap((line) => {
    const [hex, index, , , , name] = line.trim().split(/\s+/);
    if (!hex || !/^[0-9a-f]{32}$/i.test(hex) || !index || !name) return [];
    const parsed = parseIpAddress((hex.match(/.{4}/g) ?? []).join(':'), { canonical: true });
    return typeof parsed === 'string' ? [] : [{ index: Number.parseInt(index, 16), address: parsed.text }];
  });
  // The kernel lists them in hash order; Go's list is in interface order.
  return entries.sort((a, b) => a.index - b.index).map((e) => e.address);
}

/** Interface names in /proc/net/dev (every interface, whatever its state). */
export function parseProcNetDev(text: string): string[] {
  return text.split('\n').flatMap((line) => {
    const match = /^\s*([^:\s]+):/.exec(line);
    return match?.[1] ? [match[1]] : [];
  });
}

/** Every address of the namespace, IPv4 first, as upstream lists them (see the file's comment). */
export async function kernelInterfaceAddresses(sources: AddressSources): Promise<string[]> {
  const node = sources.nodeInterfaces();
  const listed = Object.entries(node).flatMap(([, list]) => list ?? []);
  const v4 = listed.filter((a) => a.family === 'IPv4').map((a) => a.address);
  const inet6 = sources.readProc('/proc/net/if_inet6');
  const v6 =
    inet6 === undefined ? listed.filter((a) => a.family === 'IPv6').map((a) => a.address) : parseIfInet6(inet6);
  if (detectPodAddress(v4, false) === undefined) {
    const seen = new Set(Object.keys(node));
    const unseen = parseProcNetDev(sources.readProc('/proc/net/dev') ?? '').filter((name) => !seen.has(name));
    if (unseen.length > 0) return sources.ipAddrShow();
  }
  return [...v4, ...v6];
}
