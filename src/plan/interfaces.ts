/** Interface short-circuits (upstream steps 1 and 2). */
import { append, because, insert } from './builder.js';
import type { PlanContext } from './context.js';
import { inIf, outIf, RETURN } from './matches.js';

/** Traffic through an excluded interface is never captured, in either direction. */
export function excludeInterfaces({ config, rules }: PlanContext): void {
  const nics = config.interfaces.exclude;
  const excluded = (nic: string) => because(`-c ${nic}`, `interface ${nic} is excluded from capture`);
  for (const nic of nics) {
    rules.both(append('nat', 'PREROUTING', [inIf(nic)], RETURN, excluded(nic)));
    rules.both(append('nat', 'OUTPUT', [outIf(nic)], RETURN, excluded(nic)));
  }
  // TPROXY captures in mangle, so the exclusion must be repeated there.
  if (config.inbound.interception.mode !== 'tproxy') return;
  for (const nic of nics) {
    rules.both(append('mangle', 'PREROUTING', [inIf(nic)], RETURN, excluded(nic)));
    rules.both(append('mangle', 'OUTPUT', [outIf(nic)], RETURN, excluded(nic)));
  }
}

/**
 * Traffic arriving from a KubeVirt interface comes from the VM (the "app"), so it must not be
 * taken for inbound traffic. Inserted at position 1; several such lines therefore end up in
 * reverse order in the kernel, as upstream's do.
 */
export function shortCircuitVirtualInterfaces({ config, rules }: PlanContext): void {
  for (const nic of config.interfaces.virtual) {
    rules.both(
      insert(
        'nat',
        'PREROUTING',
        1,
        [inIf(nic)],
        RETURN,
        because(`-k ${nic}`, `traffic from the VM on ${nic} is not inbound traffic`),
      ),
    );
  }
}
