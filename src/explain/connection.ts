/**
 * The connection flags of `explain` → a `Connection`. Every problem is reported at once,
 * naming the flag and the value, as the rest of the configuration does.
 */
import { ConfigError, type Issue } from '../errors.js';
import type { IpFamily } from '../model/family.js';
import { checkInterfaceName } from '../model/names.js';
import { parseDecimal, parseIpAddress, type IpAddress } from '../model/network.js';
import type { Connection, Direction } from './packet.js';

/** The flags as typed (all optional: each has a default or is needed only sometimes). */
export interface ConnectionFlags {
  readonly direction?: string;
  readonly protocol?: string;
  readonly src?: string;
  readonly dst?: string;
  readonly uid?: string;
  readonly gid?: string;
  readonly inInterface?: string;
  readonly outInterface?: string;
}

/** The pod's own addresses: outbound traffic to them leaves through lo. */
export type OwnAddresses = readonly IpAddress[];

/** `ADDR`, `ADDR:PORT`, `[V6]:PORT` or a bare IPv6 address. */
export function parseEndpoint(text: string): { address: IpAddress; port?: number } | string {
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  const v4 = /^(\d+\.\d+\.\d+\.\d+)(?::(.*))?$/.exec(text);
  const [addressText, portText] = bracket ? [bracket[1], bracket[2]] : v4 ? [v4[1], v4[2]] : [text, undefined];
  const address = parseIpAddress(addressText ?? '', { canonical: true });
  if (typeof address === 'string') return `${address} (write IPv6 with a port as [ADDR]:PORT)`;
  if (portText === undefined) return { address };
  const port = parseDecimal(portText, 65535);
  if (port === undefined || port === 0) return 'the port must be 1-65535';
  return { address, port };
}

/** Sources when none is given: the pod (for outbound, without known own addresses), a peer (inbound). */
const DEFAULT_SOURCE: Readonly<Record<Direction, Readonly<Record<IpFamily, string>>>> = {
  outbound: { ipv4: '192.0.2.10', ipv6: '2001:db8::10' },
  inbound: { ipv4: '203.0.113.7', ipv6: '2001:db8:7::7' },
};

/**
 * Builds the connection. Defaults: outbound, tcp; the source is the pod (its first address of
 * the destination's family) for outbound and a documentation address (a peer) for inbound; the source
 * port 40000; inbound arrives on eth0; outbound leaves through lo for loopback destinations and
 * the pod's own addresses, else through eth0.
 */
export function parseConnection(flags: ConnectionFlags, own: OwnAddresses): Connection {
  const issues: Issue[] = [];
  const fail = (flag: string, value: string, message: string) => issues.push({ source: flag, value, message });
  const direction = (flags.direction ?? 'outbound') as Direction;
  if (direction !== 'outbound' && direction !== 'inbound')
    fail('--direction', String(flags.direction), 'expected outbound or inbound');
  const protocol = (flags.protocol ?? 'tcp') as 'tcp' | 'udp';
  if (protocol !== 'tcp' && protocol !== 'udp') fail('--protocol', String(flags.protocol), 'expected tcp or udp');

  const dst = flags.dst === undefined ? 'a destination is needed' : parseEndpoint(flags.dst);
  if (typeof dst === 'string') fail('--dst', flags.dst ?? '', dst);
  else if (dst.port === undefined) fail('--dst', flags.dst ?? '', 'a destination port is needed (ADDR:PORT)');
  const family: IpFamily = typeof dst === 'string' ? 'ipv4' : dst.address.family;

  const ownOfFamily = own.find((a) => a.family === family);
  const defaultSource =
    direction === 'outbound' && ownOfFamily
      ? ownOfFamily.text
      : (DEFAULT_SOURCE[direction] ?? DEFAULT_SOURCE.outbound)[family];
  const src = parseEndpoint(flags.src ?? defaultSource);
  if (typeof src === 'string') fail('--src', flags.src ?? '', src);
  else if (src.address.family !== family) fail('--src', flags.src ?? '', `not an ${family} address, as --dst is`);

  const id = (flag: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const n = parseDecimal(text, 4294967294);
    if (n === undefined) fail(flag, text, 'expected a numeric id');
    return n;
  };
  const uid = id('--uid', flags.uid);
  const gid = id('--gid', flags.gid);
  if (direction === 'inbound' && (uid !== undefined || gid !== undefined))
    fail(
      flags.uid !== undefined ? '--uid' : '--gid',
      flags.uid ?? flags.gid ?? '',
      'only outbound traffic has an owner',
    );
  for (const [flag, name] of [
    ['--in-interface', flags.inInterface],
    ['--out-interface', flags.outInterface],
  ] as const) {
    const problem = name === undefined ? undefined : checkInterfaceName(name);
    if (problem) fail(flag, name ?? '', problem);
  }
  if (issues.length > 0 || typeof dst === 'string' || typeof src === 'string') throw new ConfigError(issues);

  const destination = dst.address;
  const local = own.some((a) => a.value === destination.value && a.family === destination.family);
  const loopback = family === 'ipv4' ? destination.value >> 24n === 127n : destination.value === 1n;
  return {
    family,
    direction,
    protocol,
    source: src.address,
    sourcePort: src.port ?? 40000,
    destination,
    destinationPort: dst.port ?? 0,
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
    ...(direction === 'inbound'
      ? { inInterface: flags.inInterface ?? 'eth0' }
      : { outInterface: flags.outInterface ?? (local || loopback ? 'lo' : 'eth0') }),
  };
}
