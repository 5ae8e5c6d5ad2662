/** The nftables walker: hook and priority order, verdicts in base and regular chains, statements. */
import { describe, expect, it } from 'vitest';
import { parseIpAddress, type IpAddress } from '../../model/network.js';
import { parseConnection, type ConnectionFlags } from '../connection.js';
import { rulesetFromListing } from './ruleset.js';
import { walkNft } from './walk.js';

const ip = (text: string) => parseIpAddress(text, { canonical: true }) as IpAddress;
const POD = [ip('192.0.2.10'), ip('2001:db8::10')];
const out: ConnectionFlags = { dst: '198.51.100.5:80', uid: '1000', gid: '1000' };

/** A listing of base chains, as nft prints one: `chains` is `name: hook line; rule; rule`. */
function listing(tables: Record<string, Record<string, string[]>>): string {
  return Object.entries(tables)
    .map(
      ([table, chains]) =>
        `table ${table} {\n${Object.entries(chains)
          .map(([name, lines]) => `\tchain ${name} {\n${lines.map((l) => `\t\t${l}\n`).join('')}\t}\n`)
          .join('')}}\n`,
    )
    .join('');
}

const walkOf = (text: string, flags: ConnectionFlags = out) =>
  walkNft(rulesetFromListing(text), parseConnection(flags, POD));

describe('the kernel order', () => {
  it('runs the base chains of a hook by priority, whatever the listing order, and only those of the family', () => {
    const text = listing({
      'inet late': { output: ['type filter hook output priority 10; policy accept;', 'counter'] },
      'ip6 other': { output: ['type filter hook output priority -400; policy accept;', 'counter'] },
      'ip early': { output: ['type filter hook output priority raw; policy accept;', 'counter'] },
      'inet mid': { output: ['type nat hook output priority dstnat; policy accept;', 'counter'] },
      'inet in': { prerouting: ['type filter hook prerouting priority -500; policy accept;', 'counter'] },
    });
    expect(walkOf(text).path.map((s) => `${s.table} ${s.rule}`)).toEqual([
      'ip early counter',
      'ip early policy accept',
      'inet mid counter',
      'inet mid policy accept',
      'inet late counter',
      'inet late policy accept',
    ]);
  });

  it('accept ends only its base chain; drop ends the walk; a drop policy drops', () => {
    const text = listing({
      'inet a': { output: ['type filter hook output priority -10; policy accept;', 'accept', 'drop'] },
      'inet b': { output: ['type filter hook output priority 0; policy drop;', 'meta l4proto udp accept'] },
      'inet c': { output: ['type filter hook output priority 10; policy accept;', 'counter'] },
    });
    const w = walkOf(text);
    expect(w.outcome).toBe('drop');
    expect(w.decidedBy).toMatchObject({ table: 'inet b', chain: 'output', rule: 'policy drop', policy: true });
    expect(w.path.map((s) => s.rule)).toEqual(['accept', 'meta l4proto udp accept', 'policy drop']);
  });

  it('jump comes back, return goes back, goto does not come back, continue goes on', () => {
    const text = listing({
      'inet t': {
        output: ['type filter hook output priority 0; policy accept;', 'jump a', 'goto b', 'drop'],
        a: ['continue', 'return', 'drop'],
        b: ['counter'],
      },
    });
    const w = walkOf(text);
    expect(w.outcome).toBe('accept');
    expect(w.path.map((s) => `${s.chain}: ${s.rule}`)).toEqual([
      'output: jump a',
      'a: continue',
      'a: return',
      'output: goto b',
      'b: counter',
      'output: policy accept',
    ]);
    expect(w.decidedBy).toMatchObject({ chain: 'a', rule: 'return', position: 2 });
  });

  it('a redirect NATs the packet: later nat chains of the hook are skipped, filter chains still run', () => {
    const text = listing({
      'inet n1': { output: ['type nat hook output priority -100; policy accept;', 'tcp dport 80 redirect to :15001'] },
      'ip n2': { output: ['type nat hook output priority -90; policy accept;', 'redirect to :9999'] },
      'inet f': { output: ['type filter hook output priority 0; policy accept;', 'tcp dport 15001 counter'] },
    });
    const w = walkOf(text);
    expect(w).toMatchObject({ outcome: 'redirect', toPort: 15001 });
    expect(w.final).toMatchObject({ destination: '127.0.0.1', destinationPort: 15001 });
    expect(w.path.map((s) => `${s.table} ${s.rule} ${s.matched}`)).toEqual([
      'inet n1 tcp dport 80 redirect to :15001 true',
      'inet f tcp dport 15001 counter true',
      'inet f policy accept true',
    ]);
    expect(w.notes).toContain('ip n2 output is skipped: an earlier nat chain of this hook already NATed the packet');
  });

  it('tproxy then its mark and accept; a tproxy of the other family stops the rule; the route by mark is noted', () => {
    const text = listing({
      'inet m': {
        prerouting: [
          'type filter hook prerouting priority mangle; policy accept;',
          'tproxy ip6 to :15006 meta mark set 0x00000539 counter accept',
          'meta l4proto tcp tproxy ip to :15006 meta mark set 0x00000539 counter accept',
        ],
      },
    });
    const w = walkOf(text, { direction: 'inbound', dst: '192.0.2.10:8080' });
    expect(w).toMatchObject({ outcome: 'tproxy', toPort: 15006 });
    expect(w.decidedBy.position).toBe(2);
    expect(w.final.mark).toBe(0x539);
    expect(w.path.map((s) => s.matched)).toEqual([false, true]);
    expect(w.notes).toEqual([
      '`tproxy ip6 to :15006` does not apply to an ipv4 packet: the rule stops',
      'assumed: an `ip rule fwmark 0x539` sends marked packets to a table that delivers them locally',
    ]);
  });

  it('marks: set, saved to and restored from the connection; the first ct zone wins', () => {
    const text = listing({
      'inet r': {
        output: [
          'type filter hook output priority raw; policy accept;',
          'ct zone set 1',
          'ct zone set 2',
          'meta mark set 0x5',
          'ct mark set mark',
          'meta mark set 0x0',
          'meta mark set ct mark',
          'mark 5 ct zone 1 ct mark 5 accept',
        ],
      },
    });
    const w = walkOf(text);
    expect(w.final).toMatchObject({ mark: 5, zone: 1 });
    expect(w.decidedBy.rule).toBe('mark 5 ct zone 1 ct mark 5 accept');
  });

  it('unknown matches and statements are noted, not skipped; a jump to a missing chain is a no-op', () => {
    const text = listing({
      'inet u': {
        output: [
          'type filter hook output priority 0; policy accept;',
          'fib daddr type local drop',
          'log prefix "seen " counter',
          'jump nowhere',
        ],
      },
    });
    const w = walkOf(text);
    expect(w.outcome).toBe('accept');
    expect(w.notes).toEqual([
      'unknown match `fib daddr type local`: assuming no match',
      'statement `log prefix "seen "` is not modelled: the walk goes on past it',
      'inet u nowhere does not exist: the jump to it is taken as a no-op',
    ]);
    expect(w.path[0]).toMatchObject({
      matched: false,
      notes: ['unknown match `fib daddr type local`: assuming no match'],
    });
  });

  it('without base chains nothing intercepts; counter values are left out of the rule text', () => {
    expect(walkOf('').decidedBy).toMatchObject({ rule: 'no base chain at this hook: accept' });
    const text = listing({
      'inet c': {
        output: ['type nat hook output priority -100; policy accept;', 'counter packets 4 bytes 240 return'],
      },
    });
    expect(walkOf(text).decidedBy.rule).toBe('counter return');
  });
});
