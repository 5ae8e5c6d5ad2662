/** What every planning step shares: the configuration, the builder and per-family values. */
import type { CaptureConfig } from '../config/capture-config.js';
import { FAMILY, type IpFamily } from '../model/family.js';
import type { Cidr } from '../model/network.js';
import type { RulesetBuilder } from './builder.js';

export interface PlanContext {
  readonly config: CaptureConfig;
  readonly rules: RulesetBuilder;
  /** The loopback destination CIDR of a family: configurable for IPv4, `::1/128` for IPv6. */
  loopback(family: IpFamily): Cidr;
}

export function planContext(config: CaptureConfig, rules: RulesetBuilder): PlanContext {
  return {
    config,
    rules,
    loopback: (family) => (family === 'ipv4' ? config.hostIPv4LoopbackCidr : FAMILY.ipv6.loopback),
  };
}

/** The proxy's owner matches, UIDs first then GIDs, as upstream loops over them. */
export function proxyOwners(config: CaptureConfig): { kind: 'uid' | 'gid'; id: string }[] {
  return [
    ...config.proxy.uids.map((id) => ({ kind: 'uid' as const, id })),
    ...config.proxy.gids.map((id) => ({ kind: 'gid' as const, id })),
  ];
}
