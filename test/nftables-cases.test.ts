/**
 * Upstream's native-nftables cases (test/fixtures/nftables/*, enumerated at run time): the dry
 * run's transaction must be upstream's golden byte for byte, whether the case is given as its
 * effective configuration (`--config`) or as flags and env vars built from its args.txt.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { argsTxtToCli } from './support/args-txt.js';
import { forbiddenHostFacts, REPO_ROOT, runCli } from './support/cli.js';

const CASES_DIR = join(REPO_ROOT, 'test/fixtures/nftables');
const CASES = readdirSync(CASES_DIR)
  .filter((name) => statSync(join(CASES_DIR, name)).isDirectory())
  .sort();

const scratch = mkdtempSync(join(tmpdir(), 'nft-cases-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.each(CASES)('nftables case %s', (name) => {
  const dir = join(CASES_DIR, name);
  const golden = readFileSync(join(dir, 'expected.golden'), 'utf8');
  const { argv: flagArgv, env: flagEnv } = argsTxtToCli(readFileSync(join(dir, 'args.txt'), 'utf8'));
  const ways = {
    'the --config record': { argv: ['--config', join(dir, 'config.json'), '--dry-run'], env: {} },
    'flags and env from args.txt': { argv: [...flagArgv, '--dry-run'], env: flagEnv },
  };

  describe.each(Object.entries(ways))('through %s', (way, { argv, env }) => {
    it('prints one `# nft -f -` line, then upstream transaction byte for byte, then comments only', async () => {
      const host = forbiddenHostFacts();
      const result = await runCli(argv, env, host);
      expect(result.code, result.stderr).toBe(0);
      expect(host.calls).toEqual([]);
      expect(result.stdout.startsWith(`# nft -f -\n${golden}`)).toBe(true);
      const rest = result.stdout.slice(`# nft -f -\n${golden}`.length).split(/(?<=\n)/);
      expect(rest.filter((line) => line !== '' && !/^# ipv[46]: ip /.test(line))).toEqual([]);
    });

    it('writes the transaction to DRY_RUN_FILE_PATH', async () => {
      const path = join(scratch, `${name}-${way.length}.txt`);
      const result = await runCli(argv, { ...env, DRY_RUN_FILE_PATH: path });
      expect(result.code, result.stderr).toBe(0);
      expect(readFileSync(path, 'utf8')).toBe(golden);
    });
  });
});

it('found the nftables cases', () => {
  expect(CASES.length).toBeGreaterThanOrEqual(20);
});
