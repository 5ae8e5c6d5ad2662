/** `istio-iptables explain` through main(): the plan as the source, no machine asked. */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';

/** The injector's flags, plus what a run would otherwise derive from the machine. */
const CAPTURE = [
  '-p',
  '15001',
  '-z',
  '15006',
  '-u',
  '1337',
  '-m',
  'REDIRECT',
  '-i',
  '*',
  '-x',
  '10.96.0.0/12',
  '-b',
  '*',
  '-d',
  '15090,15021,15020',
  '--enable-inbound-ipv6=false',
  '--host-ip',
  '192.0.2.10',
];

async function explainJson(...args: string[]) {
  const result = await runCli(['explain', ...CAPTURE, '--json', ...args]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown> & { path: { rule: string; matched: boolean }[] };
}

describe('istio-iptables explain', () => {
  it('--json: outcome, toPort, decidedBy with the setting, and the path tried', async () => {
    const doc = await explainJson('--dst', '198.51.100.5:80', '--uid', '1000', '--gid', '1000');
    expect(doc).toMatchObject({
      source: 'plan',
      connection: {
        family: 'ipv4',
        direction: 'outbound',
        src: '192.0.2.10:40000',
        dst: '198.51.100.5:80',
        outInterface: 'eth0',
      },
      outcome: 'redirect',
      toPort: 15001,
      decidedBy: {
        table: 'nat',
        chain: 'ISTIO_REDIRECT',
        rule: '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
      },
    });
    expect(doc.path.at(-1)).toEqual({
      table: 'nat',
      chain: 'ISTIO_REDIRECT',
      rule: '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
      matched: true,
      origin: { setting: '-p 15001', why: "the proxy's outbound listener" },
    });
    expect(doc.summary).toContain('(`-i *`)');
  });

  it('names the setting that lets a connection pass: -x, -d', async () => {
    const excluded = await explainJson('--dst', '10.96.0.1:443', '--uid', '1000');
    expect(excluded).toMatchObject({ outcome: 'accept', decidedBy: { origin: { setting: '-x 10.96.0.0/12' } } });
    const inbound = await explainJson('--direction', 'inbound', '--dst', '192.0.2.10:15021');
    expect(inbound).toMatchObject({ outcome: 'accept', decidedBy: { origin: { setting: '-d 15021' } } });
    expect(inbound.summary).toBe('passes untouched: inbound port excluded from capture (`-d 15021`)');
  });

  it('prints for people: chains entered, rules tried (+/-), the verdict and the outcome', async () => {
    const { stdout, code } = await runCli(['explain', ...CAPTURE, '--direction=inbound', '--dst=192.0.2.10:8080']);
    expect(code).toBe(0);
    expect(stdout).toContain(
      'plan, ipv4: inbound tcp 192.0.2.10:40000 → 192.0.2.10:8080 (in eth0)\n  nat PREROUTING\n',
    );
    expect(stdout).toContain('    - -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN  [-e 15008: ');
    expect(stdout).toContain(
      '    + -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT  [-b *: inbound TCP to every port is captured]\n',
    );
    expect(stdout).toContain('  verdict: redirect to port 15006, decided by nat ISTIO_IN_REDIRECT');
    expect(stdout).toContain("outcome: captured: redirected to the proxy's inbound listener 15006");
  });

  it('reads the capture settings as a run does: env and TPROXY mode', async () => {
    const result = await runCli(
      [
        'explain',
        ...CAPTURE.filter((a) => a !== 'REDIRECT' && a !== '-m'),
        '--json',
        '--direction',
        'inbound',
        '--dst',
        '192.0.2.10:8080',
      ],
      { ISTIO_INBOUND_INTERCEPTION_MODE: 'TPROXY' },
    );
    expect(JSON.parse(result.stdout)).toMatchObject({ outcome: 'tproxy', toPort: 15006 });
  });

  it('bad connection flags: every problem named, exit 2', async () => {
    const result = await runCli(['explain', ...CAPTURE, '--dst', '198.51.100.5', '--protocol', 'sctp', '--uid', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--dst="198.51.100.5": a destination port is needed (ADDR:PORT)');
    expect(result.stderr).toContain('--protocol="sctp": expected tcp or udp');
    expect(result.stderr).toContain('--uid="x": expected a numeric id');
    expect(result.stdout).toBe('');
  });

  it('bad capture flags are reported as for a run', async () => {
    const result = await runCli(['explain', ...CAPTURE, '-z', 'nope', '--dst', '198.51.100.5:80']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--inbound-capture-port="nope": expected a port 1-65535');
  });

  it('--help', async () => {
    const result = await runCli(['explain', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--from-save FILE');
  });
});
