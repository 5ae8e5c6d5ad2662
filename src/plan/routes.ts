/**
 * The non-iptables half of the plan. TPROXY'd packets keep their foreign destination, so a
 * policy rule sends marked packets to a table whose only route delivers everything locally.
 * With IPv6 the proxy binds `::6` for inbound passthrough, so lo needs that address.
 */
import type { CaptureConfig } from '../config/capture-config.js';
import { FAMILY, type IpFamily } from '../model/family.js';

export type NetworkStep =
  | { readonly kind: 'loopbackAddress'; readonly family: 'ipv6'; readonly address: string }
  | { readonly kind: 'policyRule'; readonly family: IpFamily; readonly mark: number; readonly table: number }
  | { readonly kind: 'localRoute'; readonly family: IpFamily; readonly destination: string; readonly table: number };

export function planNetwork(config: CaptureConfig): NetworkStep[] {
  const steps: NetworkStep[] = [];
  if (config.families.includes('ipv6')) {
    steps.push({ kind: 'loopbackAddress', family: 'ipv6', address: FAMILY.ipv6.passthroughSource.text });
  }
  const { interception, ports } = config.inbound;
  if (interception.mode === 'tproxy' && ports.kind !== 'none') {
    for (const family of config.families) {
      steps.push({ kind: 'policyRule', family, mark: interception.mark, table: interception.routeTable });
    }
    for (const family of config.families) {
      steps.push({
        kind: 'localRoute',
        family,
        destination: FAMILY[family].anyAddress,
        table: interception.routeTable,
      });
    }
  }
  return steps;
}
