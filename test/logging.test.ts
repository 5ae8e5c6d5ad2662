/**
 * pilot-agent's logging, as the injector's flags ask for it: plain lines or JSON lines,
 * levels per scope, targets, and the configuration dump every run starts with at info level.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, formatTime, parseLogFlags } from '../src/cli/logging.js';
import { FLAG_SPECS } from '../src/config/flag-spec.js';
import { parseLog, runCli } from './support/cli.js';

const BASE = ['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*'];
const RUN = [...BASE, '--enable-inbound-ipv6=false', '--dry-run'];
const EPOCH = '1970-01-01T00:00:00.000000Z';

const scratch = mkdtempSync(join(tmpdir(), 'logging-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Upstream's "Istio iptables variables" keys, in its order (Istio 1.20.1's dump). */
const UPSTREAM_KEYS = [
  'IPTABLES_VERSION',
  'PROXY_PORT',
  'PROXY_INBOUND_CAPTURE_PORT',
  'PROXY_TUNNEL_PORT',
  'PROXY_UID',
  'PROXY_GID',
  'INBOUND_INTERCEPTION_MODE',
  'INBOUND_TPROXY_MARK',
  'INBOUND_TPROXY_ROUTE_TABLE',
  'INBOUND_PORTS_INCLUDE',
  'INBOUND_PORTS_EXCLUDE',
  'OUTBOUND_OWNER_GROUPS_INCLUDE',
  'OUTBOUND_OWNER_GROUPS_EXCLUDE',
  'OUTBOUND_IP_RANGES_INCLUDE',
  'OUTBOUND_IP_RANGES_EXCLUDE',
  'OUTBOUND_PORTS_INCLUDE',
  'OUTBOUND_PORTS_EXCLUDE',
  'KUBE_VIRT_INTERFACES',
  'ENABLE_INBOUND_IPV6',
  'DUAL_STACK',
  'DNS_CAPTURE',
  'DROP_INVALID',
  'CAPTURE_ALL_DNS',
  'DNS_SERVERS',
  'NETWORK_NAMESPACE',
  'CNI_MODE',
  'EXCLUDE_INTERFACES',
];

/** The dump's `KEY=value` lines → key → { value, origin }. */
function dump(stderr: string): Map<string, { value: string; origin: string }> {
  const record = parseLog(stderr).find((r) => r.msg.startsWith('Istio iptables variables:\n'));
  expect(record?.level).toBe('info');
  const lines = (record?.msg ?? '').split('\n').slice(1);
  return new Map(
    lines.map((line) => {
      const match = /^([A-Z0-9_]+)=([^\t]*)\t\((.*)\)$/.exec(line);
      expect(match, line).not.toBeNull();
      return [match?.[1] ?? '', { value: match?.[2] ?? '', origin: match?.[3] ?? '' }];
    }),
  );
}

describe('plain lines', () => {
  it('stamp time as pilot-agent does: UTC with microseconds', () => {
    expect(formatTime(Date.UTC(2023, 11, 19, 13, 10, 5, 770) * 1000 + 489)).toBe('2023-12-19T13:10:05.770489Z');
    expect(formatTime(0)).toBe(EPOCH);
  });

  it('stamp the same date and time as Date does, leap days and century years included', () => {
    const viaDate = (us: number) =>
      `${new Date(Math.floor(us / 1000)).toISOString().slice(0, 23)}${String(Math.floor(us) % 1000).padStart(3, '0')}Z`;
    const instants = [
      Date.UTC(2000, 1, 29, 23, 59, 59, 999) * 1000 + 999,
      Date.UTC(2100, 2, 1) * 1000,
      Date.UTC(1999, 11, 31, 23, 59, 59) * 1000 + 500_000,
      Date.UTC(2024, 1, 29, 12) * 1000 + 0.75,
    ];
    // Every day from 1970 to 2400 at a varying time of day, and the instants above.
    for (let day = 0; day < 157_000; day += 1) instants.push((day * 86_400 + ((day * 7919) % 86_400)) * 1e6 + day);
    for (const us of instants) expect(formatTime(us), String(us)).toBe(viaDate(us));
  });

  it('are TIME, level and message, tab-separated, on stderr; stdout stays the payload', async () => {
    const result = await runCli(RUN);
    expect(result.code).toBe(0);
    expect(result.stderr.split('\n')[0]).toBe(`${EPOCH}\tinfo\tIstio iptables variables:`);
    expect(result.stdout.startsWith('# ipv4: iptables-restore --noflush\n* nat\n')).toBe(true);
    expect(result.stdout).not.toContain('Istio iptables variables');
  });

  it('add a column for a scope other than default, and keep multi-line messages as they are', () => {
    let text = '';
    const logger = createLogger(
      parseLogFlags([{ name: '--log_output_level', value: 'iptables:debug' }]).settings,
      { stdout: () => undefined, stderr: (t) => (text += t) },
      () => 0,
    );
    logger.debug('Running command: iptables-save', 'iptables');
    logger.debug('hidden: default stays at info');
    logger.warn('two\nlines');
    expect(text).toBe(`${EPOCH}\tdebug\tiptables\tRunning command: iptables-save\n${EPOCH}\twarn\ttwo\nlines\n`);
  });
});

describe('--log_as_json', () => {
  it('writes one JSON object per line, keys level, time, msg, multi-line messages included', async () => {
    const ok = await runCli([...RUN, '--log_as_json']);
    const bad = await runCli(['istio-iptables', ...RUN, '--log_as_json', '-b', '99999', '-x', '*']);
    expect(ok.code).toBe(0);
    expect(bad.code).toBe(2);
    for (const text of [ok.stderr, bad.stderr]) {
      const lines = text.replace(/\n$/, '').split('\n');
      for (const line of lines) {
        const record = JSON.parse(line) as Record<string, unknown>;
        expect(Object.keys(record)).toEqual(['level', 'time', 'msg']);
        expect(record.time).toBe(EPOCH);
      }
    }
    const [first] = ok.stderr.split('\n').map((line) => JSON.parse(line || '{}') as { level: string; msg: string });
    expect(first?.level).toBe('info');
    expect(first?.msg.split('\n').slice(0, 3)).toEqual([
      'Istio iptables variables:',
      'IPTABLES_VERSION=\t(default)',
      'PROXY_PORT=15001\t(flag --envoy-port)',
    ]);
    const error = JSON.parse(bad.stderr.trim()) as { level: string; msg: string };
    expect(error.level).toBe('error');
    expect(error.msg).toContain('\n  --istio-inbound-ports="99999": a port is at most 65535');
    expect(error.msg).toContain('\n  --istio-service-exclude-cidr="*"');
  });

  it('puts a non-default scope between time and msg', () => {
    let text = '';
    const { settings } = parseLogFlags([
      { name: '--log_as_json', value: 'true' },
      { name: '--log_output_level', value: 'iptables:debug' },
    ]);
    createLogger(settings, { stdout: () => undefined, stderr: (t) => (text += t) }, () => 0).debug('x', 'iptables');
    expect(text).toBe(`{"level":"debug","time":"${EPOCH}","scope":"iptables","msg":"x"}\n`);
  });
});

describe('--log_output_level', () => {
  it('default:none silences everything, errors included; the payload is untouched', async () => {
    const quiet = await runCli([...RUN, '--log_output_level=default:none']);
    const loud = await runCli(RUN);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toBe(loud.stdout);
    const failed = await runCli([...RUN, '--log_output_level', 'default:none', '-b', '0']);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toBe('');
  });

  it('default:warn drops the info dump but keeps warnings; all:debug and a bare level work', async () => {
    const manyCidrs = Array.from({ length: 1100 }, (_, i) => `198.18.${i >> 7}.${(i & 127) * 2}/32`).join(',');
    const warn = await runCli([...RUN, '--log_output_level=default:warn', '-x', manyCidrs]);
    const levels = parseLog(warn.stderr).map((record) => record.level);
    expect(levels.length).toBeGreaterThan(0);
    expect(new Set(levels)).toEqual(new Set(['warn']));
    for (const value of ['all:debug', 'debug', 'default:info,iptables:debug', 'default:error']) {
      const result = await runCli([...RUN, `--log_output_level=${value}`]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr.includes('Istio iptables variables'), value).toBe(value !== 'default:error');
    }
  });

  it.each(['default:loud', 'a:b:c', 'verbose', ':info'])('refuses %j, naming the flag', async (value) => {
    const result = await runCli([...RUN, `--log_output_level=${value}`]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`--log_output_level=${JSON.stringify(value)}: invalid output level`);
  });
});

describe('--log_target', () => {
  it('stdout puts the log there (before the payload); stderr is then empty', async () => {
    const result = await runCli([...RUN, '--log_target', 'stdout']);
    expect(result.stderr).toBe('');
    expect(result.stdout.startsWith(`${EPOCH}\tinfo\tIstio iptables variables:\n`)).toBe(true);
    expect(result.stdout).toContain('# ipv4: iptables-restore --noflush\n');
  });

  it('writes files (appending) and several targets, given as a list or as repeated flags', async () => {
    const file = join(scratch, 'a.log');
    writeFileSync(file, 'before\n');
    const result = await runCli([...RUN, `--log_target=${file},stderr`, '--log_target', join(scratch, 'b.log')]);
    expect(result.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(`before\n${result.stderr}`);
    expect(readFileSync(join(scratch, 'b.log'), 'utf8')).toBe(result.stderr);
    expect(result.stderr).toContain('Istio iptables variables');
  });

  it('refuses a file that cannot be opened, exit 2, reported on stderr', async () => {
    const result = await runCli([...RUN, '--log_target', join(scratch, 'missing', 'x.log')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--log_target=');
    expect(result.stderr).toContain('cannot open');
  });
});

describe('the configuration dump', () => {
  it("lists upstream's keys in its order, then every other setting once", async () => {
    const keys = [...dump((await runCli(RUN)).stderr).keys()];
    expect(keys.slice(0, UPSTREAM_KEYS.length)).toEqual(UPSTREAM_KEYS);
    expect(new Set(keys).size).toBe(keys.length);
    // Every setting appears: the DNS server lists share one key.
    expect(keys.length).toBe(FLAG_SPECS.length - 1);
  });

  it('shows effective values and where each came from: flag, env, config file, derived, default', async () => {
    const config = join(scratch, 'c.json');
    writeFileSync(config, JSON.stringify({ INBOUND_TPROXY_MARK: '1400' }));
    const result = await runCli([...RUN, '--config', config, '--redirect-dns', '--dns-servers-v4=10.96.0.10'], {
      ISTIO_LOCAL_EXCLUDE_PORTS: '15090,15021',
    });
    expect(result.code, result.stderr).toBe(0);
    const entries = dump(result.stderr);
    expect(entries.get('PROXY_PORT')).toEqual({ value: '15001', origin: 'flag --envoy-port' });
    expect(entries.get('INBOUND_PORTS_EXCLUDE')).toEqual({
      value: '15090,15021',
      origin: 'env ISTIO_LOCAL_EXCLUDE_PORTS',
    });
    expect(entries.get('INBOUND_TPROXY_MARK')).toEqual({ value: '1400', origin: 'config file INBOUND_TPROXY_MARK' });
    expect(entries.get('PROXY_GID')).toEqual({ value: '1337', origin: 'derived: --proxy-uid' });
    expect(entries.get('INBOUND_INTERCEPTION_MODE')?.value).toBe('REDIRECT');
    expect(entries.get('PROBE_TIMEOUT')).toEqual({ value: '5s', origin: 'default' });
    expect(entries.get('DNS_SERVERS')?.value).toBe('[10.96.0.10],[]');
    expect(entries.get('DNS_CAPTURE')).toEqual({ value: 'true', origin: 'flag --redirect-dns' });
  });
});
