/** The connection `explain` walks, and what the rules can change about its first packet. */
import type { IpFamily } from '../model/family.js';
import type { IpAddress } from '../model/network.js';

export type Direction = 'outbound' | 'inbound';

/** One connection, as the user describes it. Its first packet is what the rules see. */
export interface Connection {
  readonly family: IpFamily;
  /** `outbound`: sent by a process in the pod (OUTPUT hook); `inbound`: arriving (PREROUTING). */
  readonly direction: Direction;
  readonly protocol: 'tcp' | 'udp';
  readonly source: IpAddress;
  readonly sourcePort: number;
  readonly destination: IpAddress;
  readonly destinationPort: number;
  /** The sending process (outbound only; inbound packets have no local socket). */
  readonly uid?: number;
  readonly gid?: number;
  /** Inbound: where the packet arrives. */
  readonly inInterface?: string;
  /** Outbound: where routing sends it (decided before the OUTPUT hook). */
  readonly outInterface?: string;
}

/** Conntrack states a first packet can have; `NEW` unless a test says otherwise. */
export type ConnState = 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'UNTRACKED';

/** The packet as it travels: NAT rewrites its destination, targets set marks and zones. */
export interface PacketState {
  readonly connection: Connection;
  destination: IpAddress;
  destinationPort: number;
  mark: number;
  connmark: number;
  state: ConnState;
  /** Conntrack zone set by `-j CT --zone` (0: the default zone). */
  zone: number;
  /** Whether a CT target already attached a template: later CT targets then do nothing. */
  ctAttached: boolean;
}

/** The first packet of a connection: no marks, conntrack state NEW. */
export function firstPacket(connection: Connection, state: ConnState = 'NEW'): PacketState {
  return {
    connection,
    destination: connection.destination,
    destinationPort: connection.destinationPort,
    mark: 0,
    connmark: 0,
    state,
    zone: 0,
    ctAttached: false,
  };
}
