/**
 * Inbound capture (upstream steps 4, 5 and 17). REDIRECT mode rewrites the destination in
 * nat; TPROXY mode leaves it intact, marks the packet in mangle and routes it to a local
 * socket through policy routing (see `routes.ts`).
 */
import { FAMILY } from '../model/family.js';
import type { Match, RuleOp } from '../model/netfilter.js';
import { formatPortRange } from '../model/network.js';
import { append, because, insert, traced } from './builder.js';
import { destinationPortMatches, portsOf, portsText } from './compact.js';
import { proxyOwners, type PlanContext } from './context.js';
import { dport, dst, jump, LO_IN, LO_OUT, mark, ownerOf, RETURN, src, TCP } from './matches.js';

/** Marks proxy→app traffic over lo in TPROXY mode, so the reply is not diverted again. */
export const OUTBOUND_MARK = 1338;

const RELATED_ESTABLISHED: Match = { kind: 'conntrack', states: ['RELATED', 'ESTABLISHED'] };

/** The nat chains that always exist, even when nothing jumps to them. */
export function natRedirectChains({ config, rules }: PlanContext): void {
  const tunnel = formatPortRange(config.inbound.tunnelPort);
  rules.both(
    append(
      'nat',
      'ISTIO_INBOUND',
      [TCP, dport(config.inbound.tunnelPort)],
      RETURN,
      because(`-e ${tunnel}`, `the HBONE tunnel port ${tunnel} is never captured`),
    ),
  );
  rules.both(
    append(
      'nat',
      'ISTIO_REDIRECT',
      [TCP],
      { kind: 'redirect', toPort: config.outbound.proxyPort },
      because(`-p ${config.outbound.proxyPort}`, "the proxy's outbound listener"),
    ),
  );
  rules.both(
    traced(
      'InboundCapture',
      append(
        'nat',
        'ISTIO_IN_REDIRECT',
        [TCP],
        { kind: 'redirect', toPort: config.inbound.capturePort },
        because(`-z ${config.inbound.capturePort}`, "the proxy's inbound listener"),
      ),
    ),
  );
}

export function inboundCapture(ctx: PlanContext): void {
  const { config, rules } = ctx;
  const { ports, interception } = config.inbound;
  if (ports.kind === 'none') return;
  const table = interception.mode === 'tproxy' ? 'mangle' : 'nat';
  const capturedBy = because(`-b ${ports.kind === 'all' ? '*' : portsText(ports.items)}`, 'inbound TCP is captured');
  if (interception.mode === 'tproxy') {
    const tproxy = because(`-m TPROXY -t ${interception.mark}`, 'TPROXY interception marks captured packets');
    rules.both(append('mangle', 'ISTIO_DIVERT', [], { kind: 'setMark', mark: interception.mark }, tproxy));
    rules.both(append('mangle', 'ISTIO_DIVERT', [], { kind: 'accept' }, tproxy));
    rules.both((family) =>
      append(
        'mangle',
        'ISTIO_TPROXY',
        [dst(ctx.loopback(family), true), TCP],
        { kind: 'tproxy', onPort: config.inbound.capturePort, mark: interception.mark },
        because(`-m TPROXY -z ${config.inbound.capturePort}`, "the proxy's inbound listener, by TPROXY"),
      ),
    );
  }
  rules.both(traced('JumpInbound', append(table, 'PREROUTING', [TCP], jump('ISTIO_INBOUND'), capturedBy)));
  if (config.strict && interception.mode === 'tproxy') {
    // Upstream exempts the tunnel port only in nat ISTIO_INBOUND, which TPROXY mode never
    // jumps to, so HBONE traffic to 15008 is captured to 15006.
    const tunnel = formatPortRange(config.inbound.tunnelPort);
    rules.both(
      append(
        'mangle',
        'ISTIO_INBOUND',
        [TCP, dport(config.inbound.tunnelPort)],
        RETURN,
        because(`--strict -e ${tunnel}`, `the HBONE tunnel port ${tunnel} is never captured`),
      ),
    );
  }
  const capture = (portMatch: Match[]) => {
    const [only] = portMatch;
    const capturedBy = only
      ? because(`-b ${portsText(portsOf(only))}`, 'inbound TCP to this port is captured')
      : because('-b *', 'inbound TCP to every port is captured');
    // Only the per-port rules are named for trace logging, as upstream names them.
    const name = (op: RuleOp) => (only ? traced('IncludeInboundPort', op) : op);
    if (interception.mode === 'tproxy') {
      rules.both(
        name(
          append('mangle', 'ISTIO_INBOUND', [TCP, ...portMatch, RELATED_ESTABLISHED], jump('ISTIO_DIVERT'), capturedBy),
        ),
      );
      rules.both(name(append('mangle', 'ISTIO_INBOUND', [TCP, ...portMatch], jump('ISTIO_TPROXY'), capturedBy)));
    } else {
      rules.both(name(append('nat', 'ISTIO_INBOUND', [TCP, ...portMatch], jump('ISTIO_IN_REDIRECT'), capturedBy)));
    }
  };
  if (ports.kind === 'all') {
    for (const p of destinationPortMatches(ports.except, config.compactRules))
      rules.both(
        traced(
          'ExcludeInboundPort',
          append(
            table,
            'ISTIO_INBOUND',
            [TCP, p],
            RETURN,
            because(`-d ${portsText(portsOf(p))}`, 'inbound port excluded from capture'),
          ),
        ),
      );
    capture([]);
  } else {
    for (const p of destinationPortMatches(ports.items, config.compactRules)) capture([p]);
  }
}

/**
 * TPROXY marking. Upstream runs this whenever the mode is TPROXY, even with no inbound ports,
 * leaving a mangle ISTIO_INBOUND chain that nothing jumps to.
 */
export function tproxyMarking(ctx: PlanContext): void {
  const { config, rules } = ctx;
  const { interception } = config.inbound;
  if (interception.mode !== 'tproxy') return;
  const why = (text: string) => because(`-m TPROXY -t ${interception.mark}`, text);
  rules.both(
    append(
      'mangle',
      'PREROUTING',
      [TCP, mark(interception.mark)],
      { kind: 'connmark', action: 'save' },
      why('remembers the TPROXY mark on the connection'),
    ),
  );
  rules.both(
    append('mangle', 'OUTPUT', [TCP, LO_OUT, mark(interception.mark)], RETURN, why('already-marked traffic over lo')),
  );
  for (const owner of proxyOwners(config)) {
    rules.both((family) =>
      append(
        'mangle',
        'OUTPUT',
        [dst(ctx.loopback(family), true), TCP, LO_OUT, ownerOf(owner.kind, owner.id)],
        { kind: 'setMark', mark: OUTBOUND_MARK },
        because(`-${owner.kind === 'uid' ? 'u' : 'g'} ${owner.id}`, 'marks the proxy talking to the app over lo'),
      ),
    );
  }
  rules.both(
    append(
      'mangle',
      'OUTPUT',
      [TCP, { kind: 'connmark', mark: interception.mark }],
      { kind: 'connmark', action: 'restore' },
      why('replies of TPROXY connections carry its mark'),
    ),
  );
  rules.both(
    insert('mangle', 'ISTIO_INBOUND', 1, [TCP, mark(interception.mark)], RETURN, why('already-diverted packets')),
  );
  rules.both((family) =>
    insert(
      'mangle',
      'ISTIO_INBOUND',
      2,
      [TCP, src(FAMILY[family].passthroughSource), LO_IN],
      RETURN,
      why("the proxy's inbound passthrough to the app over lo"),
    ),
  );
  rules.both(
    insert(
      'mangle',
      'ISTIO_INBOUND',
      3,
      [TCP, LO_IN, mark(OUTBOUND_MARK, true)],
      RETURN,
      why('traffic over lo not marked as the proxy calling the app'),
    ),
  );
}
