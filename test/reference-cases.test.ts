/**
 * Upstream's golden cases (test/fixtures/istio/*, enumerated at run time): the
 * restore payloads must be byte-identical, whether the case is given as its effective
 * configuration record (`--config`) or as flags and env vars built from its args.txt. The
 * upstream transcript (`DRY_RUN_FILE_PATH`) must equal expected.golden byte for byte.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { argsTxtToCli } from './support/args-txt.js';
import { forbiddenHostFacts, REFERENCE_CASES_DIR, runCli } from './support/cli.js';

const CASES = readdirSync(REFERENCE_CASES_DIR)
  .filter((name) => statSync(join(REFERENCE_CASES_DIR, name)).isDirectory())
  .sort();

const HEADER = { ipv4: '# ipv4: iptables-restore --noflush', ipv6: '# ipv6: ip6tables-restore --noflush' } as const;

const scratch = mkdtempSync(join(tmpdir(), 'istio-cases-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Splits a golden's payload block into the IPv4 and IPv6 payloads: a `* table` header that
 * does not sort after the previous one starts the next family (README, "Splitting rule").
 */
function splitPayload(payload: string): { ipv4: string; ipv6: string } {
  const lines = payload.split(/(?<=\n)/);
  let previous = '';
  let boundary = lines.length;
  for (const [index, line] of lines.entries()) {
    if (!line.startsWith('* ')) continue;
    if (line <= previous) {
      boundary = index;
      break;
    }
    previous = line;
  }
  return { ipv4: lines.slice(0, boundary).join(''), ipv6: lines.slice(boundary).join('') };
}

/** expected.golden without its `iptables-save` / `ip6tables-save` lines: the restore payload. */
function expectedPayload(golden: string): string {
  return golden
    .split(/(?<=\n)/)
    .filter((line) => line !== 'iptables-save\n' && line !== 'ip6tables-save\n')
    .join('');
}

const withoutComments = (stdout: string) =>
  stdout
    .split(/(?<=\n)/)
    .filter((line) => !line.startsWith('#'))
    .join('');

describe.each(CASES)('reference case %s', (name) => {
  const dir = join(REFERENCE_CASES_DIR, name);
  const golden = readFileSync(join(dir, 'expected.golden'), 'utf8');
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { ENABLE_INBOUND_IPV6: boolean };
  const payload = expectedPayload(golden);
  const families = splitPayload(payload);
  const { argv: flagArgv, env: flagEnv } = argsTxtToCli(readFileSync(join(dir, 'args.txt'), 'utf8'));

  const ways = {
    'the --config record': { argv: ['--config', join(dir, 'config.json'), '--dry-run'], env: {} },
    'flags and env from args.txt': { argv: [...flagArgv, '--dry-run'], env: flagEnv },
  };

  it('has an IPv6 payload exactly when the case enables IPv6 (harness check)', () => {
    expect(families.ipv4.startsWith('* ')).toBe(true);
    expect(families.ipv6 !== '').toBe(config.ENABLE_INBOUND_IPV6);
  });

  describe.each(Object.entries(ways))('through %s', (_way, { argv, env }) => {
    it('prints the upstream restore payload byte for byte', async () => {
      const host = forbiddenHostFacts();
      const result = await runCli(argv, env, host);
      expect(result.code, result.stderr).toBe(0);
      expect(host.calls).toEqual([]);
      expect(withoutComments(result.stdout)).toBe(payload);
    });

    it('puts one restore header per family before its own payload, IPv4 first', async () => {
      const { stdout } = await runCli(argv, env);
      const lines = stdout.split('\n');
      const v6 = config.ENABLE_INBOUND_IPV6;
      expect(lines.filter((line) => line === HEADER.ipv4)).toHaveLength(1);
      expect(lines.filter((line) => line === HEADER.ipv6)).toHaveLength(v6 ? 1 : 0);
      const head = `${HEADER.ipv4}\n${families.ipv4}${v6 ? `${HEADER.ipv6}\n${families.ipv6}` : ''}`;
      expect(stdout.startsWith(head)).toBe(true);
      // What follows the payloads is comments only (the `ip` commands).
      expect(
        stdout
          .slice(head.length)
          .split(/(?<=\n)/)
          .filter((line) => line !== '' && !line.startsWith('# ')),
      ).toEqual([]);
    });

    it('writes the upstream transcript to DRY_RUN_FILE_PATH, equal to expected.golden', async () => {
      const path = join(scratch, `${name}-${argv[0] === '--config' ? 'config' : 'flags'}.txt`);
      rmSync(path, { force: true });
      const result = await runCli(argv, { ...env, DRY_RUN_FILE_PATH: path });
      expect(result.code, result.stderr).toBe(0);
      expect(readFileSync(path, 'utf8')).toBe(golden);
    });
  });
});

it("found all 27 of upstream's cases in the repository", () => {
  expect(CASES).toHaveLength(27);
});
