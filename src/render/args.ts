/**
 * The only place iptables option spellings live: `Match` and `Target` values → argv tokens.
 * See iptables(8) and iptables-extensions(8).
 */
import type { Match, RuleOp, Target } from '../model/netfilter.js';
import { formatPortRange } from '../model/network.js';

const not = (negated: true | undefined): string[] => (negated ? ['!'] : []);

function matchArgs(match: Match): string[] {
  switch (match.kind) {
    case 'protocol':
      return ['-p', match.protocol];
    case 'source':
      return [...not(match.negated), '-s', match.cidr.text];
    case 'destination':
      return [...not(match.negated), '-d', match.cidr.text];
    case 'inInterface':
      return ['-i', match.name];
    case 'outInterface':
      return ['-o', match.name];
    case 'destinationPort':
      return [...not(match.negated), '--dport', formatPortRange(match.port)];
    case 'sourcePort':
      return ['--sport', formatPortRange(match.port)];
    case 'multiport':
      return ['-m', 'multiport', ...not(match.negated), '--dports', match.ports.map(formatPortRange).join(',')];
    case 'owner':
      return ['-m', 'owner', ...not(match.negated), match.owner === 'uid' ? '--uid-owner' : '--gid-owner', match.id];
    case 'mark':
      return ['-m', 'mark', ...not(match.negated), '--mark', String(match.mark)];
    case 'connmark':
      return ['-m', 'connmark', '--mark', String(match.mark)];
    case 'conntrack':
      return ['-m', 'conntrack', '--ctstate', match.states.join(',')];
    default: {
      const never: never = match;
      return never;
    }
  }
}

function targetArgs(target: Target): string[] {
  switch (target.kind) {
    case 'jump':
      return ['-j', target.chain];
    case 'return':
      return ['-j', 'RETURN'];
    case 'accept':
      return ['-j', 'ACCEPT'];
    case 'drop':
      return ['-j', 'DROP'];
    case 'redirect':
      return ['-j', 'REDIRECT', target.singularOption ? '--to-port' : '--to-ports', String(target.toPort)];
    case 'tproxy':
      // The mask is spelled out in full, as upstream writes it.
      return ['-j', 'TPROXY', '--tproxy-mark', `${target.mark}/0xffffffff`, '--on-port', String(target.onPort)];
    case 'setMark':
      return ['-j', 'MARK', '--set-mark', String(target.mark)];
    case 'connmark':
      return ['-j', 'CONNMARK', target.action === 'save' ? '--save-mark' : '--restore-mark'];
    case 'ct':
      return ['-j', 'CT', '--zone', String(target.zone)];
    default: {
      const never: never = target;
      return never;
    }
  }
}

/** The rule's arguments after the chain: matches, then target. */
export function ruleSpec(op: RuleOp): string[] {
  return [...op.rule.matches.flatMap(matchArgs), ...targetArgs(op.rule.target)];
}

/** `-A CHAIN …` or `-I CHAIN N …`. */
export function opArgs(op: RuleOp): string[] {
  const head = op.op === 'append' ? ['-A', op.rule.chain] : ['-I', op.rule.chain, String(op.position)];
  return [...head, ...ruleSpec(op)];
}
