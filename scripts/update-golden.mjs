#!/usr/bin/env node
/**
 * Regenerates golden/<scenario>/expected.out by running the built CLI (bin/istio-iptables,
 * so run `npm run build` first) with each scenario's `flags` and `env`, from the repository
 * root. Review the diff (`git diff golden/`) before committing. CI never runs this:
 * test/golden.test.ts only compares.
 *
 * golden/<scenario>/flags  one line of shell-quoted words (bash splits them here)
 * golden/<scenario>/env    optional KEY=VALUE lines (value literal); the CLI sees only these
 *                          and PATH, so the caller's environment cannot leak into the output
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const goldenDir = join(root, 'golden');
const bin = join(root, 'bin', 'istio-iptables');

if (!existsSync(join(root, 'dist', 'cli', 'bin.js'))) {
  console.error('dist/ is missing: run `npm run build` first.');
  process.exit(1);
}

/** The words bash makes of the line (no globbing; `$` and backquotes refused, so nothing runs). */
function shellWords(line) {
  if (/[$`]/.test(line)) throw new Error(`flags may not contain $ or \` (no expansions): ${line}`);
  const out = execFileSync('bash', ['-c', `set -f\nset -- ${line}\nfor w in "$@"; do printf '%s\\0' "$w"; done`], {
    encoding: 'utf8',
  });
  return out === '' ? [] : out.slice(0, -1).split('\0');
}

function readEnv(path) {
  if (!existsSync(path)) return {};
  const env = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`${path}: not KEY=VALUE: ${JSON.stringify(line)}`);
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

let changed = 0;
const scenarios = readdirSync(goldenDir)
  .filter((name) => statSync(join(goldenDir, name)).isDirectory())
  .sort();
for (const name of scenarios) {
  const dir = join(goldenDir, name);
  const text = readFileSync(join(dir, 'flags'), 'utf8');
  const lines = text.split('\n').filter((line) => line !== '');
  if (lines.length !== 1) throw new Error(`${name}/flags: expected exactly one line`);
  const argv = shellWords(lines[0]);
  // Never let a scenario apply rules to this machine.
  if (!argv.includes('--dry-run') && !argv.includes('-n'))
    throw new Error(`${name}/flags: must contain a bare --dry-run or -n`);
  if (argv.some((word) => /^(--dry-run|-n)=/.test(word)))
    throw new Error(`${name}/flags: write a bare --dry-run, not --dry-run=…`);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...readEnv(join(dir, 'env')) };
  const stdout = execFileSync(bin, argv, { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const target = join(dir, 'expected.out');
  const before = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
  if (before === stdout) continue;
  writeFileSync(target, stdout);
  changed++;
  console.log(`${before === undefined ? 'created' : 'updated'} golden/${name}/expected.out`);
}
console.log(`${scenarios.length} scenarios, ${changed} expected.out file(s) written. Review with: git diff golden/`);
