/**
 * `--iptables-trace-logging`, as Istio wrote it from 1.12 to 1.24: every rule named with a
 * `TraceKind` gets a twin with the same table, chain and matches whose target is NFLOG, with the
 * kind as the prefix, in group 1337. The twin sees each packet the rule would see, just before
 * the rule does: for an append it goes first; for an insert (`-I CHAIN N`) it is inserted at the
 * same N after the rule, which puts it in front. A reader on the NFLOG group (`tcpdump -i
 * nflog:1337`, or the sidecar's own) then sees which rules a connection went through.
 */
import type { RuleOp, Ruleset } from '../model/netfilter.js';

/** NFLOG group and snapshot length upstream uses. */
export const TRACE_NFLOG = { group: 1337, size: 20 } as const;

function twin(op: RuleOp & { trace: NonNullable<RuleOp['trace']> }): RuleOp {
  const { trace: prefix, ...plain } = op;
  return { ...plain, rule: { ...op.rule, target: { kind: 'nflog', prefix, ...TRACE_NFLOG } } };
}

/** The ruleset with a trace twin beside every named rule. */
export function withTraceTwins(ruleset: Ruleset): Ruleset {
  const ops = ruleset.ops.flatMap((op) => {
    if (op.trace === undefined) return [op];
    const log = twin({ ...op, trace: op.trace });
    return op.op === 'append' ? [log, op] : [op, log];
  });
  return { family: ruleset.family, ops };
}
