/**
 * `CaptureConfig` → the nftables transaction of `--native-nftables`. Pure and deterministic;
 * the steps run in upstream's order (spec §6), because creation order is the order of the
 * rule lines in each table block.
 */
import type { CaptureConfig } from '../../config/capture-config.js';
import type { NftTableState, NftTransaction } from '../../model/nftables.js';
import { planNetwork, type NetworkStep } from '../routes.js';
import { cleanupTransaction, tablesAfter } from './builder.js';
import { nftPlanContext, type NftPlanContext } from './context.js';
import { passIpv6WhenOff } from './differences.js';
import { dnsCapture } from './dns.js';
import { dropInvalidRules, inboundCapture, interfaceRules, natRedirectChains, tproxyMarking } from './inbound.js';
import { outboundEnd, outboundStart, ownerGroupRules, proxyOwnerRules } from './outbound.js';

/** Everything a `--native-nftables` run would do. */
export interface NftPlan {
  /** The transaction that applies the capture, upstream's text once rendered. */
  readonly transaction: NftTransaction;
  /** The tables it leaves behind: chains in declaration order, rules in kernel order. */
  readonly tables: readonly NftTableState[];
  /** Upstream's `--cleanup-only` transaction (all three tables deleted). */
  readonly cleanup: NftTransaction;
  /** Routes, `ip rule` and `::6`, the same steps as the iptables mode. */
  readonly network: readonly NetworkStep[];
}

const STEPS: readonly ((ctx: NftPlanContext) => void)[] = [
  interfaceRules,
  dropInvalidRules,
  natRedirectChains,
  inboundCapture,
  outboundStart,
  proxyOwnerRules,
  ownerGroupRules,
  dnsCapture,
  outboundEnd,
  tproxyMarking,
  passIpv6WhenOff,
];

/** Plans the nftables transaction, the tables it leaves, and the network steps. */
export function planNftCapture(config: CaptureConfig): NftPlan {
  const ctx = nftPlanContext(config);
  for (const step of STEPS) step(ctx);
  const transaction = ctx.records.transaction();
  return { transaction, tables: tablesAfter(transaction), cleanup: cleanupTransaction(), network: planNetwork(config) };
}
