/**
 * The executor's failures as data: drift that may not be replaced is a DriftError that names
 * no flag, undo problems ride on the error as `rollbackProblems`, and only the CLI turns
 * either into words about flags.
 */
import { describe, expect, test } from 'vitest';
import { main } from '../src/cli/main.js';
import { resolveSettings } from '../src/config/settings.js';
import { toCaptureConfig } from '../src/config/to-capture-config.js';
import { DriftError, isIptablesError, RestoreFailedError } from '../src/errors.js';
import { applyCapture } from '../src/exec/apply.js';
import { planCapture } from '../src/plan/plan-capture.js';
import { renderRestore } from '../src/render/restore.js';
import { RecordingRunner } from './doubles/recording-runner.js';
import { forbiddenHostFacts } from './support/cli.js';

const FLAGS = {
  'istio-inbound-ports': '*',
  'istio-service-cidr': '*',
  'enable-inbound-ipv6': false,
  'proxy-uid': '1337',
  'proxy-gid': '1337',
} as const;
const parse = (extra: Record<string, string | boolean> = {}) =>
  toCaptureConfig(resolveSettings({ flags: { ...FLAGS, ...extra }, env: {} }).settings);
const retry = { attempts: 1, delayMs: 0, sleep: async () => undefined };

/** main() with an `apply` that throws `error`; what it printed and returned. */
async function cliWith(error: Error): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await main(
    ['-p', '15001', '-u', '1337', '-i', '*', '--enable-inbound-ipv6=false'],
    {},
    {
      stdout: () => undefined,
      stderr: (text) => {
        stderr += text;
      },
      readStdin: () => Promise.reject(new Error('no stdin')),
      readFile: () => Promise.reject(new Error('no files')),
    },
    {
      hostFacts: async () => forbiddenHostFacts(),
      apply: async () => {
        throw error;
      },
    },
  );
  return { code, stderr };
}

describe('executor errors', () => {
  test('drift with reconcile off is a DriftError listing the differences, naming no flag', async () => {
    const { config, options } = parse({ reconcile: false });
    const plan = planCapture(config);
    const ruleset = plan.rulesets[0];
    if (!ruleset) throw new Error('no IPv4 ruleset');
    const live = renderRestore(ruleset)
      .replace(/^\* nat$/m, '*nat')
      .replace(/^-N (\S+)$/gm, ':$1 - [0:0]')
      .replace(/^-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n/m, '');
    const runner = new RecordingRunner([
      { line: 'iptables-legacy-save' },
      {
        line: 'iptables-nft-restore --noflush',
        result: { exitCode: 1, stderr: 'line 2 failed: Chain already exists.' },
      },
      { line: 'iptables-legacy-save' },
      { line: 'iptables-nft-save', result: { stdout: live } },
    ]);
    const error = await applyCapture(plan, options, { runner, log: () => undefined, retry }).catch((e: unknown) => e);
    runner.assertDone();
    expect(error).toBeInstanceOf(DriftError);
    expect(isIptablesError(error) && error.code).toBe('DRIFT_NOT_RECONCILED');
    expect((error as DriftError).differences.join('\n')).toContain('ISTIO_OUTPUT');
    expect((error as DriftError).message).not.toMatch(/--reconcile|--force-apply|--cleanup-only/);
  });

  test('the CLI says which flag forbids replacing drifted rules (exit 1)', async () => {
    const { code, stderr } = await cliWith(new DriftError('ipv4', 'nft', ['nat ISTIO_OUTPUT: chain missing']));
    expect(code).toBe(1);
    expect(stderr).toContain('Nothing was changed');
    expect(stderr).toContain('--reconcile=false forbids replacing them');
  });

  test('rollback problems are data on the error, and the CLI prints each', async () => {
    const error = new RestoreFailedError('ipv6', ['ip6tables-nft-restore'], 1, 'line 3 failed', 'a\nb\nc\n');
    error.rollbackProblems = ['ipv4 rollback failed: the nat table is busy'];
    expect(error.message).not.toContain('rollback failed');
    const { code, stderr } = await cliWith(error);
    expect(code).toBe(1);
    expect(stderr).toContain('error: ipv6 restore failed');
    expect(stderr).toContain('\n  ipv4 rollback failed: the nat table is busy\n');
  });
});
