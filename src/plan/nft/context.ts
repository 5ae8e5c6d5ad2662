/** What every nftables planning step shares. */
import type { CaptureConfig } from '../../config/capture-config.js';
import type { IpFamily } from '../../model/family.js';
import { loopbackOf } from '../decisions.js';
import { NftRecords } from './builder.js';

export interface NftPlanContext {
  readonly config: CaptureConfig;
  readonly records: NftRecords;
  /** The enabled families, IPv4 first: an IPv6 twin follows its IPv4 record immediately. */
  readonly families: readonly IpFamily[];
  /** Its text as given (`127.0.0.1/8` stays), as upstream writes it. */
  loopback(family: IpFamily): string;
}

export function nftPlanContext(config: CaptureConfig): NftPlanContext {
  return {
    config,
    records: new NftRecords(config.families),
    families: config.families.includes('ipv6') ? ['ipv4', 'ipv6'] : ['ipv4'],
    loopback: (family) => loopbackOf(config, family).text,
  };
}
