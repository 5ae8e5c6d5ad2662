/** Chain names: netfilter's built-ins and the chains this tool owns. */
import type { TableName } from './netfilter.js';

const BUILTIN_CHAINS = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'] as const;
export type BuiltinChain = (typeof BUILTIN_CHAINS)[number];

const ISTIO_CHAINS = [
  'ISTIO_INBOUND',
  'ISTIO_REDIRECT',
  'ISTIO_IN_REDIRECT',
  'ISTIO_OUTPUT',
  'ISTIO_OUTPUT_DNS',
  'ISTIO_DIVERT',
  'ISTIO_TPROXY',
  'ISTIO_DROP',
] as const;
export type IstioChain = (typeof ISTIO_CHAINS)[number];

/** Each table's built-in chains, in the order iptables-save lists them. */
export const BUILTINS_BY_TABLE = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
} as const satisfies Readonly<Record<TableName, readonly BuiltinChain[]>>;

const builtins: ReadonlySet<string> = new Set(BUILTIN_CHAINS);

export function isBuiltinChain(name: string): name is BuiltinChain {
  return builtins.has(name);
}

/** True for every chain this tool creates and therefore may flush and delete. */
export function isOwnedChain(name: string): boolean {
  return name.startsWith('ISTIO_');
}
