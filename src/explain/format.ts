/** A walk as text for people, and as the JSON document `explain --json` prints. */
import type { RuleOrigin } from '../model/netfilter.js';
import { describeOutcome, endpoint, type ListenerPorts } from './outcome.js';
import type { Connection } from './packet.js';
import type { PathStep, Walk } from './walk.js';

/** `outbound tcp 192.0.2.10:40000 → 198.51.100.5:80 (uid 1000, out eth0)`. */
export function describeConnection(c: Connection): string {
  const extra = [
    c.uid !== undefined ? `uid ${c.uid}` : '',
    c.gid !== undefined ? `gid ${c.gid}` : '',
    c.inInterface ? `in ${c.inInterface}` : '',
    c.outInterface ? `out ${c.outInterface}` : '',
  ].filter(Boolean);
  return (
    `${c.direction} ${c.protocol} ${endpoint(c.source.text, c.sourcePort)} → ` +
    `${endpoint(c.destination.text, c.destinationPort)}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`
  );
}

function originText(origin: RuleOrigin | undefined): string {
  if (!origin) return '';
  return origin.setting.startsWith('(') ? `  [${origin.why}]` : `  [${origin.setting}: ${origin.why}]`;
}

/** The walk for a terminal: each chain entered, each rule tried (+ matched, - not), the verdict, the outcome. */
export function formatWalk(walk: Walk, source: string, ports: ListenerPorts): string {
  const lines = [`${source}, ${walk.connection.family}: ${describeConnection(walk.connection)}`];
  let current = '';
  for (const step of walk.path) {
    const chain = `${step.table} ${step.chain}`;
    if (chain !== current) lines.push(`  ${chain}`);
    current = chain;
    lines.push(`    ${step.matched ? '+' : '-'} ${step.rule}${originText(step.origin)}`);
    for (const note of step.notes ?? []) lines.push(`        (${note})`);
  }
  const by = walk.decidedBy;
  lines.push(
    `  verdict: ${walk.outcome}${walk.toPort ? ` to port ${walk.toPort}` : ''}, decided by ${by.table} ${by.chain}: ${by.rule}`,
  );
  lines.push(`outcome: ${describeOutcome(walk, ports)}`);
  for (const note of walk.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}

const stepJson = (step: PathStep) => ({
  table: step.table,
  chain: step.chain,
  rule: step.rule,
  matched: step.matched,
  ...(step.origin ? { origin: step.origin } : {}),
  ...(step.notes ? { notes: step.notes } : {}),
});

/** The JSON document of one walk (its schema is in the README). */
export function walkJson(walk: Walk, source: string, ports: ListenerPorts): Record<string, unknown> {
  const c = walk.connection;
  const by = walk.decidedBy;
  return {
    source,
    connection: {
      family: c.family,
      direction: c.direction,
      protocol: c.protocol,
      src: endpoint(c.source.text, c.sourcePort),
      dst: endpoint(c.destination.text, c.destinationPort),
      ...(c.uid !== undefined ? { uid: c.uid } : {}),
      ...(c.gid !== undefined ? { gid: c.gid } : {}),
      ...(c.inInterface ? { inInterface: c.inInterface } : {}),
      ...(c.outInterface ? { outInterface: c.outInterface } : {}),
    },
    outcome: walk.outcome,
    ...(walk.toPort !== undefined ? { toPort: walk.toPort } : {}),
    summary: describeOutcome(walk, ports),
    decidedBy: {
      table: by.table,
      chain: by.chain,
      rule: by.rule,
      ...(by.position ? { position: by.position } : {}),
      ...(by.origin ? { origin: by.origin } : {}),
      via: by.via.map(stepJson),
    },
    path: walk.path.map(stepJson),
    final: walk.final,
    notes: walk.notes,
  };
}
