import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { ProgramsMissingError } from '../errors.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import { checkPrograms, onPath } from './preflight.js';

const dir = mkdtempSync(`${tmpdir()}/iit-preflight-`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function install(...names: string[]) {
  for (const name of names) {
    writeFileSync(`${dir}/${name}`, '#!/bin/sh\n');
    chmodSync(`${dir}/${name}`, 0o755);
  }
}
const plan = (families: ('ipv4' | 'ipv6')[], network: number): CapturePlan =>
  ({
    rulesets: families.map((family) => ({ family, ops: [] })),
    network: Array.from({ length: network }, () => ({ kind: 'loopbackAddress' })),
  }) as unknown as CapturePlan;

describe('programs checked before the first change', () => {
  install('flock', 'nsenter', 'iptables-nft-save', 'iptables-nft-restore', 'ip6tables-nft-save');
  writeFileSync(`${dir}/not-executable`, '');

  it('finds executables on PATH only', () => {
    expect(onPath('flock', `/nonexistent:${dir}`)).toBe(true);
    expect(onPath('not-executable', dir)).toBe(false);
    expect(onPath('ip', dir)).toBe(false);
  });

  it('passes when all are there', () => {
    expect(() =>
      checkPrograms(plan(['ipv4'], 0), { iptables: 'auto', networkNamespace: '/x' }, false, dir),
    ).not.toThrow();
  });

  it('lists every missing one, with what it is for', () => {
    const error = (() => {
      try {
        checkPrograms(plan(['ipv4', 'ipv6'], 1), { iptables: 'auto', networkNamespace: '/x' }, false, dir);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ProgramsMissingError);
    expect((error as ProgramsMissingError).missing.map((m) => m.name)).toEqual(['ip', 'ip6tables-nft-restore']);
    expect(String(error)).toContain('so nothing was changed');
    expect(String(error)).toContain('ip: needed for the TPROXY route and ::6 on lo (iproute2)');
  });

  it('without the native helper needs flock, and nsenter for another namespace; with it, neither', () => {
    const empty = mkdtempSync(`${tmpdir()}/iit-preflight-empty-`);
    try {
      const missing = (native: boolean) => {
        try {
          checkPrograms(plan([], 0), { iptables: 'auto', networkNamespace: '/x' }, native, empty);
          return [];
        } catch (error) {
          return (error as ProgramsMissingError).missing.map((m) => m.name);
        }
      };
      expect(missing(false)).toEqual(['flock', 'nsenter']);
      expect(missing(true)).toEqual([]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('with a forced backend, needs that one', () => {
    expect(() => checkPrograms(plan(['ipv4'], 0), { iptables: 'legacy' }, false, dir)).toThrow(
      /iptables-legacy-save: needed for the ipv4 rules[\s\S]*iptables-legacy-restore/,
    );
  });
});
