import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { localLegacyTables, otherLegacyTables } from './host-facts.js';

describe('legacy tables, from the kernel\'s list of them', () => {
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

  it('in another namespace: none only when legacy is not loaded at all (no list here); unknown otherwise, even when our list is empty', () => {
    const dir = procNet({ ip_tables_names: '' });
    expect(otherLegacyTables('ipv4', dir)).toBeUndefined();
    expect(otherLegacyTables('ipv6', dir)).toBe(false);
  });
});
