/**
 * Golden scenarios: golden/<name>/flags (+ env) run through main() in-process must print
 * golden/<name>/expected.out exactly. A mismatch fails; to accept a deliberate change, run
 * `npm run build && npm run golden:update` and review `git diff golden/`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLAG_SPECS } from '../src/config/flag-spec.js';
import { fileOnlyHostFacts, GOLDEN_DIR, parseEnvLines, runCli, splitShellWords } from './support/cli.js';

const SCENARIOS = readdirSync(GOLDEN_DIR)
  .filter((name) => statSync(join(GOLDEN_DIR, name)).isDirectory())
  .sort();

interface Scenario {
  readonly line: string;
  readonly argv: string[];
  readonly env: Record<string, string>;
}

function load(name: string): Scenario {
  const dir = join(GOLDEN_DIR, name);
  const line = readFileSync(join(dir, 'flags'), 'utf8').replace(/\n$/, '');
  const envPath = join(dir, 'env');
  return {
    line,
    argv: splitShellWords(line),
    env: existsSync(envPath) ? parseEnvLines(readFileSync(envPath, 'utf8')) : {},
  };
}

/** What bash makes of the line: the reference for "shell-quoted words" (update-golden uses it). */
function bashWords(line: string): string[] {
  const out = execFileSync('bash', ['-c', `set -f\nset -- ${line}\nfor w in "$@"; do printf '%s\\0' "$w"; done`], {
    encoding: 'utf8',
  });
  return out === '' ? [] : out.slice(0, -1).split('\0');
}

describe.each(SCENARIOS)('golden scenario %s', (name) => {
  const dir = join(GOLDEN_DIR, name);

  it('has a one-line flags file that bash splits into the same words', () => {
    const { line, argv } = load(name);
    expect(line).not.toContain('\n');
    expect(argv).toEqual(bashWords(line));
  });

  it('prints expected.out exactly (update with npm run golden:update)', async () => {
    const { argv, env } = load(name);
    expect(
      existsSync(join(dir, 'expected.out')),
      'missing expected.out: run npm run build && npm run golden:update',
    ).toBe(true);
    const expected = readFileSync(join(dir, 'expected.out'), 'utf8');
    const result = await runCli(argv, env, fileOnlyHostFacts());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(expected);
  });
});

describe('golden scenarios as a whole', () => {
  const all = SCENARIOS.map(load);

  it('always state IPv6 enablement and dry-run, so the output cannot depend on the machine', () => {
    for (const [index, { argv }] of all.entries()) {
      const context = SCENARIOS[index];
      expect(
        argv.filter((word) => /^--enable-inbound-ipv6=(true|false)$/.test(word)).length +
          (argv.includes('--config') ? 1 : 0),
        context,
      ).toBeGreaterThan(0);
      expect(argv.includes('--dry-run') || argv.includes('-n'), context).toBe(true);
    }
  });

  it('use every setting at least once, through its flag or an env var', () => {
    const used = new Set<string>();
    for (const { argv, env } of all) {
      for (const word of argv) used.add(word.split('=')[0] ?? '');
      for (const key of Object.keys(env)) used.add(key);
    }
    const untested = new Set<string>();
    const missing = FLAG_SPECS.filter((spec) => !untested.has(spec.long))
      .filter(
        (spec) =>
          !used.has(`--${spec.long}`) &&
          !('short' in spec && used.has(`-${spec.short}`)) &&
          !spec.env.some((name) => used.has(name)),
      )
      .map((spec) => spec.long);
    expect(missing).toEqual([]);
    expect(used.has('--config')).toBe(true);
  });

  it('cover both interception modes, both family setups and cleanup-only', () => {
    const lines = all.map(
      ({ line, env }) =>
        `${line} ${Object.entries(env)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
    );
    expect(lines.some((l) => / -m TPROXY /.test(l) || /ISTIO_INBOUND_INTERCEPTION_MODE=TPROXY/.test(l))).toBe(true);
    expect(lines.some((l) => / -m REDIRECT /.test(l))).toBe(true);
    expect(lines.some((l) => l.includes('--enable-inbound-ipv6=true'))).toBe(true);
    expect(lines.some((l) => l.includes('--enable-inbound-ipv6=false'))).toBe(true);
    expect(lines.some((l) => l.includes('--cleanup-only'))).toBe(true);
  });
});
