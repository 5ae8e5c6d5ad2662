#!/usr/bin/env node
/**
 * Long runs of the property tests (test/property.test.ts) with any seed:
 *
 *   npm run fuzz -- --seed 42 --count 100000
 *
 * Without --seed a seed is drawn and printed, so a failure can be re-run. A failing case
 * names its seed and index, and prints its record, argv and env. `npm test` runs the same
 * file with a fixed seed and a bounded count.
 */
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const options = { seed: String(Math.floor(Math.random() * 2 ** 31)), count: '10000' };
for (let i = 0; i < args.length; i++) {
  const [name, inline] = args[i].split('=', 2);
  const key = name.replace(/^--/, '');
  if (!(key in options) || !name.startsWith('--')) {
    console.error(`usage: npm run fuzz -- [--seed N] [--count N]   (unknown argument ${JSON.stringify(args[i])})`);
    process.exit(2);
  }
  const value = inline ?? args[++i];
  if (!/^[0-9]+$/.test(value ?? '')) {
    console.error(`--${key} needs a non-negative integer, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  options[key] = value;
}
console.error(`fuzz: seed ${options.seed}, ${options.count} cases`);
const result = spawnSync('npx', ['vitest', 'run', 'test/property.test.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PROPERTY_SEED: options.seed, PROPERTY_COUNT: options.count },
});
process.exit(result.status ?? 1);
