/** Shorthands for the nftables matches and actions the planner uses most. */
import type { IpFamily } from '../../model/family.js';
import type { NftAction, NftAddressFamily, NftMatch, NftRegularChainName } from '../../model/nftables.js';
import type { PortRange } from '../../model/network.js';
import { port } from '../matches.js';

export const TCP: NftMatch = { kind: 'l4proto', protocol: 'tcp' };
export const RETURN: NftAction = { kind: 'return' };
export const ACCEPT: NftAction = { kind: 'accept' };

export const ip = (family: IpFamily): NftAddressFamily => (family === 'ipv4' ? 'ip' : 'ip6');
export const neg = (negated: boolean | undefined) => (negated ? ({ negated: true } as const) : {});

export const iif = (name: string): NftMatch => ({ kind: 'iifname', name });
export const oif = (name: string): NftMatch => ({ kind: 'oifname', name });
export const LO_IN = iif('lo');
export const LO_OUT = oif('lo');

export const daddr = (family: IpFamily, values: string | readonly string[], negated?: boolean): NftMatch => ({
  kind: 'address',
  family: ip(family),
  field: 'daddr',
  values: typeof values === 'string' ? [values] : values,
  ...neg(negated),
});
export const saddr = (family: IpFamily, value: string): NftMatch => ({
  kind: 'address',
  family: ip(family),
  field: 'saddr',
  values: [value],
});

const ports = (p: number | PortRange | readonly PortRange[]): readonly PortRange[] =>
  typeof p === 'number' ? [port(p)] : 'first' in p ? [p] : p;
export const tcpDport = (p: number | PortRange | readonly PortRange[], negated?: boolean): NftMatch => ({
  kind: 'port',
  protocol: 'tcp',
  field: 'dport',
  ports: ports(p),
  ...neg(negated),
});
export const udpDport = (p: number | readonly PortRange[]): NftMatch => ({
  kind: 'port',
  protocol: 'udp',
  field: 'dport',
  ports: ports(p),
});
export const udpSport = (p: number): NftMatch => ({ kind: 'port', protocol: 'udp', field: 'sport', ports: [port(p)] });

export const owner = (kind: 'uid' | 'gid', id: string, negated?: boolean): NftMatch => ({
  kind: 'owner',
  owner: kind,
  id,
  ...neg(negated),
});
/** The raw-table spelling `meta skuid U` / `meta skgid G`. */
export const metaOwner = (kind: 'uid' | 'gid', id: string): NftMatch => ({
  kind: 'owner',
  owner: kind,
  id,
  meta: true,
});
export const mark = (value: number, negated?: boolean): NftMatch => ({ kind: 'mark', mark: value, ...neg(negated) });

export const jump = (chain: NftRegularChainName): NftAction => ({ kind: 'jump', chain });
export const redirect = (toPort: number): NftAction => ({ kind: 'redirect', toPort });
export const zone = (n: number): NftAction => ({ kind: 'ctZone', zone: n });
