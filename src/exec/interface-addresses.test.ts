/** The pod's addresses read as upstream reads them, with node's view completed from the kernel's. */
import { describe, expect, it } from 'vitest';
import { type AddressSources, kernelInterfaceAddresses, parseIfInet6, parseProcNetDev } from './interface-addresses.js';

const IF_INET6 = [
  'fd000000000000000000000000000002 04 40 00 82     eth0',
  '20010db8000000000000000000000007 05 40 00 80     net1',
  'fe8000000000000000fc00fffe000001 04 40 20 80     eth0',
  '00000000000000000000000000000001 01 80 10 80       lo',
].join('\n');

const NET_DEV = `Inter-|   Receive                        |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  net1:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
`;

/** Sources whose `ip` read is recorded; `node` is what node reports. */
function sources(node: Record<string, { family: string; address: string }[]>, ip: string[] = []) {
  const calls: string[] = [];
  const value: AddressSources = {
    nodeInterfaces: () => node,
    readProc: (path) => ({ '/proc/net/if_inet6': IF_INET6, '/proc/net/dev': NET_DEV })[path],
    ipAddrShow: async () => {
      calls.push('ip');
      return ip;
    },
  };
  return { value, calls };
}

const lo = { lo: [{ family: 'IPv4', address: '127.0.0.1' }] };

describe('parsing the kernel files', () => {
  it('/proc/net/if_inet6: every address, in interface order', () => {
    expect(parseIfInet6(IF_INET6)).toEqual(['::1', 'fd00::2', 'fe80::fc:ff:fe00:1', '2001:db8::7']);
  });
  it('/proc/net/dev: every interface name', () => {
    expect(parseProcNetDev(NET_DEV)).toEqual(['lo', 'eth0', 'net1']);
  });
});

describe('kernelInterfaceAddresses', () => {
  it("takes node's IPv4 and the kernel's IPv6 (down interfaces included), no process, when node has a usable IPv4", async () => {
    const { value, calls } = sources({ ...lo, eth0: [{ family: 'IPv4', address: '10.244.1.7' }] });
    expect(await kernelInterfaceAddresses(value)).toEqual([
      '127.0.0.1',
      '10.244.1.7',
      '::1',
      'fd00::2',
      'fe80::fc:ff:fe00:1',
      '2001:db8::7',
    ]);
    expect(calls).toEqual([]);
  });

  it('reads the full list with ip when node lacks a usable IPv4 and left an interface out (no carrier)', async () => {
    const { value, calls } = sources(lo, ['10.244.1.7']);
    expect(await kernelInterfaceAddresses(value)).toEqual(['10.244.1.7']);
    expect(calls).toEqual(['ip']);
  });

  it('runs nothing when node saw every interface', async () => {
    const { value, calls } = sources({
      ...lo,
      eth0: [{ family: 'IPv6', address: 'fd00::2' }],
      net1: [{ family: 'IPv6', address: '2001:db8::7' }],
    });
    expect((await kernelInterfaceAddresses(value))[0]).toBe('127.0.0.1');
    expect(calls).toEqual([]);
  });
});
