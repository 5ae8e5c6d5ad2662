/** Shorthands for the matches and targets the planner uses most. */
import type { ChainName, Match, Target } from '../model/netfilter.js';
import type { IstioChain } from '../model/chains.js';
import type { Cidr, PortRange } from '../model/network.js';

export const TCP: Match = { kind: 'protocol', protocol: 'tcp' };
export const UDP: Match = { kind: 'protocol', protocol: 'udp' };
export const LO_OUT: Match = { kind: 'outInterface', name: 'lo' };
export const LO_IN: Match = { kind: 'inInterface', name: 'lo' };
export const RETURN: Target = { kind: 'return' };

export const port = (n: number): PortRange => ({ first: n, last: n });
export const dport = (p: PortRange, negated?: true): Match => ({
  kind: 'destinationPort',
  port: p,
  ...(negated ? { negated } : {}),
});
export const sport = (p: PortRange): Match => ({ kind: 'sourcePort', port: p });
export const dst = (cidr: Cidr, negated?: true): Match => ({
  kind: 'destination',
  cidr,
  ...(negated ? { negated } : {}),
});
export const src = (cidr: Cidr): Match => ({ kind: 'source', cidr });
export const inIf = (name: string): Match => ({ kind: 'inInterface', name });
export const outIf = (name: string): Match => ({ kind: 'outInterface', name });
export const gidOwner = (id: string, negated?: true): Match => ({
  kind: 'owner',
  owner: 'gid',
  id,
  ...(negated ? { negated } : {}),
});
export const ownerOf = (kind: 'uid' | 'gid', id: string, negated?: true): Match => ({
  kind: 'owner',
  owner: kind,
  id,
  ...(negated ? { negated } : {}),
});
export const mark = (value: number, negated?: true): Match => ({
  kind: 'mark',
  mark: value,
  ...(negated ? { negated } : {}),
});
export const jump = (chain: IstioChain): Target => ({ kind: 'jump', chain });

export type { ChainName };
