/**
 * The flags of Istio 1.20's `pilot-agent istio-iptables --help` that later releases dropped:
 * `--iptables-trace-logging`, `-f/--restore-format`, `--iptables-version` and pilot-agent's
 * `--vklog`. Each is accepted as a flag, an env var and a config key, and does what it says.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRuleSpec } from '../src/state/rule-parser.js';
import { runCli } from './support/cli.js';

const INJECTOR = ['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*'];
const DEFAULTS = [...INJECTOR, '-d', '15090,15021,15020', '--enable-inbound-ipv6=false', '--dry-run'];
const nflog = (prefix: string) => `-j NFLOG --nflog-prefix ${prefix} --nflog-group 1337 --nflog-size 20`;

const scratch = mkdtempSync(join(tmpdir(), 'seed-flags-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function dryRun(argv: readonly string[], env: Record<string, string> = {}) {
  const result = await runCli(argv, env);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.split('\n');
}

/** `lines` with `twin` inserted right before the first line equal to `before` (once per occurrence). */
function insertBefore(lines: readonly string[], before: string, twin: string): string[] {
  expect(lines).toContain(before);
  return lines.flatMap((line) => (line === before ? [twin, line] : [line]));
}

describe('--iptables-trace-logging', () => {
  it("adds exactly the issue's six NFLOG twins to the injector's default payload", async () => {
    const plain = await dryRun(DEFAULTS);
    let expected = insertBefore(
      plain,
      '-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
      `-A ISTIO_IN_REDIRECT -p tcp ${nflog('InboundCapture')}`,
    );
    expected = insertBefore(
      expected,
      '-A PREROUTING -p tcp -j ISTIO_INBOUND',
      `-A PREROUTING -p tcp ${nflog('JumpInbound')}`,
    );
    for (const port of ['15090', '15021', '15020'])
      expected = insertBefore(
        expected,
        `-A ISTIO_INBOUND -p tcp --dport ${port} -j RETURN`,
        `-A ISTIO_INBOUND -p tcp --dport ${port} ${nflog('ExcludeInboundPort')}`,
      );
    expected = insertBefore(expected, '-A OUTPUT -j ISTIO_OUTPUT', `-A OUTPUT ${nflog('JumpOutbound')}`);
    expect(expected.length - plain.length).toBe(6);
    expect(await dryRun([...DEFAULTS, '--iptables-trace-logging'])).toEqual(expected);
  });

  it('is the same through IPTABLES_TRACE_LOGGING and the config key; =false and the default add nothing', async () => {
    const flag = await dryRun([...DEFAULTS, '--iptables-trace-logging']);
    expect(await dryRun(DEFAULTS, { IPTABLES_TRACE_LOGGING: 'true' })).toEqual(flag);
    const config = join(scratch, 'trace.json');
    writeFileSync(config, JSON.stringify({ IPTABLES_TRACE_LOGGING: true }));
    expect(await dryRun([...DEFAULTS, '--config', config])).toEqual(flag);
    const off = await dryRun(DEFAULTS);
    expect(off.filter((line) => line.includes('NFLOG'))).toEqual([]);
    expect(await dryRun([...DEFAULTS, '--iptables-trace-logging=false'], { IPTABLES_TRACE_LOGGING: 'true' })).toEqual(
      off,
    );
  });

  it('puts the twin of an insert after it with the same position, so that it lands in front', async () => {
    const lines = await dryRun([...DEFAULTS, '-k', 'vnet0', '--iptables-trace-logging']);
    const real = lines.indexOf('-I PREROUTING 1 -i vnet0 -j ISTIO_REDIRECT');
    expect(real).toBeGreaterThan(0);
    expect(lines[real + 1]).toBe(`-I PREROUTING 1 -i vnet0 ${nflog('KubevirtCommand')}`);
  });

  it('names the TPROXY per-port rules, interface exclusions and the raw DNS jump, and nothing else', async () => {
    const lines = await dryRun([
      ...INJECTOR,
      '-m',
      'TPROXY',
      '-b',
      '8080',
      '-c',
      'eth9',
      '--redirect-dns',
      '--capture-all-dns',
      '--enable-inbound-ipv6=false',
      '--dry-run',
      '--iptables-trace-logging',
    ]);
    const twins = lines.filter((line) => line.includes('-j NFLOG'));
    expect(twins).toEqual([
      `-A PREROUTING -i eth9 ${nflog('ExcludeInterfaceCommand')}`,
      `-A OUTPUT -o eth9 ${nflog('ExcludeInterfaceCommand')}`,
      `-A PREROUTING -p tcp ${nflog('JumpInbound')}`,
      `-A ISTIO_INBOUND -p tcp --dport 8080 -m conntrack --ctstate RELATED,ESTABLISHED ${nflog('IncludeInboundPort')}`,
      `-A ISTIO_INBOUND -p tcp --dport 8080 ${nflog('IncludeInboundPort')}`,
      `-A PREROUTING -i eth9 ${nflog('ExcludeInterfaceCommand')}`,
      `-A OUTPUT -o eth9 ${nflog('ExcludeInterfaceCommand')}`,
      `-A ISTIO_IN_REDIRECT -p tcp ${nflog('InboundCapture')}`,
      `-A OUTPUT ${nflog('JumpOutbound')}`,
      `-A OUTPUT ${nflog('JumpOutbound')}`,
    ]);
    // Every twin sits right before a rule with the same matches.
    for (const twin of twins) {
      const next = lines[lines.indexOf(twin) + 1] ?? '';
      expect(next.startsWith(twin.slice(0, twin.indexOf(' -j NFLOG')))).toBe(true);
      expect(next).not.toContain('NFLOG');
    }
  });
});

describe('--iptables-trace-logging and explain', () => {
  it('reads a twin back from iptables-save as an NFLOG target, which a packet walks past', async () => {
    const spec = '-p tcp -j NFLOG --nflog-prefix JumpInbound --nflog-group 1337 --nflog-size 20'.split(' ');
    expect(parseRuleSpec(spec, new Set()).target).toEqual({
      kind: 'nflog',
      prefix: 'JumpInbound',
      group: 1337,
      size: 20,
    });
    const argv = [...INJECTOR, '--enable-inbound-ipv6=false', '--host-ip', '192.0.2.10', '--dst', '198.51.100.5:80'];
    const result = await runCli(['explain', ...argv, '--iptables-trace-logging', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ outcome: 'redirect', toPort: 15001 });
    expect(result.stdout).toContain('--nflog-prefix JumpOutbound');
  });
});

describe('-f, --restore-format', () => {
  it('=false prints one iptables command per chain, then per rule, instead of the restore payload', async () => {
    const restore = await dryRun(DEFAULTS);
    const commands = await dryRun([...DEFAULTS, '-f=false']);
    expect(commands[0]).toBe('# ipv4: iptables, one command per chain and rule (--restore-format=false)');
    const body = commands.slice(1).filter((line) => line !== '' && !line.startsWith('#'));
    // Istio 1.20's command form of the same payload: chains first, then rules in payload order.
    const payload = restore.filter((line) => /^-[NAI] /.test(line));
    expect(body).toEqual([
      ...payload.filter((l) => l.startsWith('-N ')).map((l) => `iptables -t nat ${l}`),
      ...payload.filter((l) => !l.startsWith('-N ')).map((l) => `iptables -t nat ${l}`),
    ]);
    expect(body.slice(0, 5)).toEqual([
      'iptables -t nat -N ISTIO_INBOUND',
      'iptables -t nat -N ISTIO_REDIRECT',
      'iptables -t nat -N ISTIO_IN_REDIRECT',
      'iptables -t nat -N ISTIO_OUTPUT',
      'iptables -t nat -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN',
    ]);
  });

  it('lists every table of both families, chains of all tables before any rule', async () => {
    const lines = await dryRun([...INJECTOR, '-m', 'TPROXY', '--enable-inbound-ipv6=true', '--dry-run', '-f=false']);
    for (const binary of ['iptables', 'ip6tables']) {
      const own = lines.filter((line) => line.startsWith(`${binary} `));
      const lastChain = own.map((line) => / -N /.test(line)).lastIndexOf(true);
      const firstRule = own.findIndex((line) => / -[AI] /.test(line));
      expect(lastChain).toBeLessThan(firstRule);
      expect(own.filter((line) => line.startsWith(`${binary} -t mangle -N `))).toHaveLength(3);
    }
  });

  it('is the same through RESTORE_FORMAT and the config key; true and the default restore', async () => {
    const flag = await dryRun([...DEFAULTS, '--restore-format=false']);
    expect(await dryRun(DEFAULTS, { RESTORE_FORMAT: 'false' })).toEqual(flag);
    const config = join(scratch, 'format.json');
    writeFileSync(config, JSON.stringify({ RESTORE_FORMAT: false }));
    expect(await dryRun([...DEFAULTS, '--config', config])).toEqual(flag);
    expect(await dryRun([...DEFAULTS, '-f'])).toEqual(await dryRun(DEFAULTS));
    expect((await dryRun(DEFAULTS))[0]).toBe('# ipv4: iptables-restore --noflush');
  });

  it('refuses a separate value, which upstream would ignore', async () => {
    const result = await runCli([...DEFAULTS, '-f', 'false']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--restore-format="false"');
  });
});

describe('--iptables-version', () => {
  it.each([
    ['iptables v1.8.9 (nf_tables)', 'nft'],
    ['v1.8.7', 'legacy'],
    ['iptables v1.6.1', 'legacy'],
  ])('accepts %j (the %s backend)', async (version) => {
    for (const [argv, env] of [
      [['--iptables-version', version], {}],
      [[], { IPTABLES_VERSION: version }],
    ] as const) {
      const result = await runCli([...DEFAULTS, ...argv], env);
      expect(result.code, result.stderr).toBe(0);
    }
  });

  it("refuses text without a version, with upstream's message, exit 2", async () => {
    for (const [argv, env, reported] of [
      [['--iptables-version', '1.8.7'], {}, '--iptables-version="1.8.7": no iptables version found: "1.8.7"'],
      [
        [],
        { IPTABLES_VERSION: 'iptables (nf_tables)' },
        'environment variable IPTABLES_VERSION="iptables (nf_tables)": no iptables version found: "iptables (nf_tables)"',
      ],
    ] as const) {
      const result = await runCli([...DEFAULTS, ...argv], env);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(reported);
    }
  });

  it('names both flags when --force-iptables-binary asks for the other backend; the same one is fine', async () => {
    const clash = await runCli([
      ...DEFAULTS,
      '--iptables-version',
      'iptables v1.8.9 (nf_tables)',
      '--force-iptables-binary',
      'legacy',
    ]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/--iptables-version=.*--force-iptables-binary=legacy/);
    const same = await runCli([...DEFAULTS, '--iptables-version', 'v1.8.7', '--force-iptables-binary', 'legacy']);
    expect(same.code, same.stderr).toBe(0);
  });
});

describe('--vklog', () => {
  it('accepts a base-10 whole number as a flag, env var or config key, and changes nothing', async () => {
    const plain = await dryRun(DEFAULTS);
    expect(await dryRun([...DEFAULTS, '--vklog', '4'])).toEqual(plain);
    expect(await dryRun([...DEFAULTS, '--vklog=-1'])).toEqual(plain);
    expect(await dryRun(DEFAULTS, { VKLOG: '9' })).toEqual(plain);
  });

  it.each(['x', '1.5', '0x10', '', '2147483648'])('refuses %j', async (value) => {
    const result = await runCli([...DEFAULTS, `--vklog=${value}`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--vklog=${JSON.stringify(value)}`);
  });
});
