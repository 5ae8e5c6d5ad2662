import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { legacyTablesIn, localLegacyTables } from './host-facts.js';

describe("legacy tables, from the kernel's list of them", () => {
  const dirs: string[] = [];
  const procNet = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'iit-procnet-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('here: a listed table means legacy may hold rules; an empty or missing list means it holds none', () => {
    const dir = procNet({ ip_tables_names: 'nat\nfilter\n', ip6_tables_names: '' });
    expect(localLegacyTables('ipv4', dir)).toBe(true);
    expect(localLegacyTables('ipv6', dir)).toBe(false);
    expect(localLegacyTables('ipv4', procNet({}))).toBe(false);
  });

  it("in a process's namespace (/proc/PID/ns/net): that process's list", () => {
    const proc = procNet({});
    mkdirSync(join(proc, '4242/net'), { recursive: true });
    writeFileSync(join(proc, '4242/net/ip_tables_names'), 'nat\n');
    writeFileSync(join(proc, '4242/net/ip6_tables_names'), '');
    const tables = legacyTablesIn('/proc/4242/ns/net', proc);
    expect([tables('ipv4'), tables('ipv6')]).toEqual([true, false]);
  });

  it('in a bind-mounted namespace: none only when legacy is not loaded at all (no list here); unknown otherwise, even when our list is empty', () => {
    const proc = procNet({});
    mkdirSync(join(proc, 'net'));
    writeFileSync(join(proc, 'net/ip_tables_names'), '');
    const tables = legacyTablesIn('/var/run/netns/pod', proc);
    expect([tables('ipv4'), tables('ipv6')]).toEqual([undefined, false]);
  });
});
