/** What every planning step shares: the configuration, the builder and per-family values. */
import type { CaptureConfig } from '../config/capture-config.js';
import type { IpFamily } from '../model/family.js';
import type { Cidr } from '../model/network.js';
import type { RulesetBuilder } from './builder.js';
import { loopbackOf } from './decisions.js';

export { proxyOwners } from './decisions.js';

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
    loopback: (family) => loopbackOf(config, family),
  };
}
