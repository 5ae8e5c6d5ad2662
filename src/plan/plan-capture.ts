/**
 * `CaptureConfig` → `CapturePlan`. Pure and deterministic. The steps run in upstream's order,
 * because creation order is the order of the lines in each table block of the payload.
 */
import type { CaptureConfig } from '../config/capture-config.js';
import type { Ruleset } from '../model/netfilter.js';
import { append, because, RulesetBuilder } from './builder.js';
import { planContext, type PlanContext } from './context.js';
import { dnsCapture } from './dns.js';
import { inboundCapture, natRedirectChains, tproxyMarking } from './inbound.js';
import { excludeInterfaces, shortCircuitVirtualInterfaces } from './interfaces.js';
import { jump } from './matches.js';
import {
  excludeOutboundCidrs,
  excludeOutboundPorts,
  includeOutboundCidrs,
  includeOutboundPorts,
  loopbackDestination,
  outboundJump,
  ownerGroupRules,
  passthroughSource,
  proxyOwnerRules,
} from './outbound.js';
import { planNetwork, type NetworkStep } from './routes.js';

/** Everything a run would do: rules per family, then the network steps. */
export interface CapturePlan {
  /** One ruleset per enabled family, IPv4 first. */
  readonly rulesets: readonly Ruleset[];
  readonly network: readonly NetworkStep[];
}

function dropInvalid({ config, rules }: PlanContext): void {
  if (!config.dropInvalid) return;
  const origin = because('--drop-invalid', 'packets conntrack finds invalid are dropped');
  rules.both(append('mangle', 'PREROUTING', [{ kind: 'conntrack', states: ['INVALID'] }], jump('ISTIO_DROP'), origin));
  rules.both(append('mangle', 'ISTIO_DROP', [], { kind: 'drop' }, origin));
}

const STEPS: readonly ((ctx: PlanContext) => void)[] = [
  excludeInterfaces,
  shortCircuitVirtualInterfaces,
  dropInvalid,
  natRedirectChains,
  inboundCapture,
  outboundJump,
  excludeOutboundPorts,
  passthroughSource,
  proxyOwnerRules,
  ownerGroupRules,
  dnsCapture,
  loopbackDestination,
  excludeOutboundCidrs,
  includeOutboundPorts,
  includeOutboundCidrs,
  tproxyMarking,
];

/** Plans the rules and network steps for a configuration. */
export function planCapture(config: CaptureConfig): CapturePlan {
  const rules = new RulesetBuilder(config.families);
  const ctx = planContext(config, rules);
  for (const step of STEPS) step(ctx);
  return { rulesets: rules.build(), network: planNetwork(config) };
}
