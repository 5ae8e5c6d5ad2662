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
  it('names addresses in the settings behind rules as text', async () => {
    const result = await runCli([
      'explain',
      ...CAPTURE,
      '--host-ipv4-loopback-cidr',
      '127.0.0.0/8',
      '--dst',
      '127.0.0.1:8080',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("the proxy's inbound passthrough from 127.0.0.6/32 passes");
    expect(result.stdout).not.toContain('[object Object]');
  });

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
    expect(doc.path.find((step) => step.matched && step.rule.includes('REDIRECT --to-ports'))).toEqual({
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
      'plan, ipv4: inbound tcp 203.0.113.7:40000 → 192.0.2.10:8080 (in eth0)\n  nat PREROUTING\n',
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

/** The settings test/fixtures/saves/ were made with (see its README). */
const SAVED_WITH = [
  '-p',
  '15001',
  '-z',
  '15006',
  '-u',
  '1337',
  '-g',
  '1337',
  '-m',
  'TPROXY',
  '-b',
  '*',
  '-d',
  '15090,15021',
  '-i',
  '*',
  '-x',
  '10.96.0.0/12,2001:db8:96::/48',
  '-o',
  '3306',
  '-q',
  '5432',
  '-c',
  'eth9',
  '-k',
  'vnet0',
  '--redirect-dns',
  '--capture-all-dns',
  '--drop-invalid',
  '--enable-inbound-ipv6=true',
  '--host-ip',
  '192.0.2.2',
];

type ReportDoc = {
  flow: string;
  outcome: string;
  toPort?: number;
  decidedBy: { table: string; chain: string; position?: number; rule: string; origin?: unknown };
  path: unknown[];
  notes: string[];
}[];

/** What must agree between two sources: the outcome and which rule (by place) decided it, after the same number of rules. */
const verdicts = (doc: ReportDoc) =>
  doc.map((line) => ({
    flow: line.flow,
    outcome: line.outcome,
    toPort: line.toPort,
    decidedBy: [line.decidedBy.table, line.decidedBy.chain, line.decidedBy.position],
    tried: line.path.length,
  }));

describe('explain --report, and --from-save against the plan', () => {
  it('--report walks the flows that matter, both families', async () => {
    const result = await runCli(['explain', ...SAVED_WITH, '--report', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout) as ReportDoc;
    const byFlow = new Map(doc.map((line) => [line.flow, line]));
    expect(byFlow.get('app → a service')).toMatchObject({ outcome: 'redirect', toPort: 15001 });
    expect(byFlow.get('[ipv6] app → excluded 2001:db8:96::/48')).toMatchObject({ outcome: 'accept' });
    expect(byFlow.get('app → DNS (udp)')).toMatchObject({ outcome: 'redirect', toPort: 15053 });
    expect(byFlow.get('app → excluded port 3306')).toMatchObject({ outcome: 'accept' });
    expect(byFlow.get('inbound → app port 8080')).toMatchObject({ outcome: 'tproxy', toPort: 15006 });
    expect(byFlow.get('inbound → excluded port 15021')).toMatchObject({ outcome: 'accept' });
    // Upstream's TPROXY mode captures the tunnel port (see Strict mode in the README).
    expect(byFlow.get('inbound → tunnel port 15008')).toMatchObject({ outcome: 'tproxy' });
    // In TPROXY mode mangle's TPROXY sees the VM's packets first; the socket it assigns wins
    // over nat's later REDIRECT to 15001 (the walker notes the REDIRECT).
    expect(byFlow.get('from -k vnet0 → a service')).toMatchObject({ outcome: 'tproxy', toPort: 15006 });
    expect(byFlow.get('from -k vnet0 → a service')?.notes).toContain(
      'nat REDIRECTs it to port 15001 too, but the socket TPROXY assigned in mangle receives it',
    );
    expect(byFlow.get('inbound on -c eth9 → app port 8080')).toMatchObject({
      outcome: 'accept',
      decidedBy: { table: 'nat', chain: 'PREROUTING', rule: '-A PREROUTING -i eth9 -j RETURN' },
    });
    expect(doc.filter((line) => line.flow.startsWith('[ipv6]')).length).toBe(doc.length / 2);
  });

  for (const backend of ['nft', 'legacy'])
    it(`a real ${backend} dump of those settings decides every flow as the plan does`, async () => {
      const plan = await runCli(['explain', ...SAVED_WITH, '--report', '--json']);
      const saves = ['ipv4', 'ipv6'].flatMap((f) => [
        '--from-save',
        `test/fixtures/saves/tproxy-dns-${backend}.${f}.save`,
      ]);
      const saved = await runCli(['explain', ...SAVED_WITH, ...saves, '--report', '--json']);
      expect(saved.code, saved.stderr).toBe(0);
      const doc = JSON.parse(saved.stdout) as ReportDoc;
      expect(verdicts(doc)).toEqual(verdicts(JSON.parse(plan.stdout) as ReportDoc));
      // A dump has no `ip rule`: TPROXY's routing is an assumption, and said so.
      expect(doc.find((line) => line.outcome === 'tproxy')?.notes[0]).toMatch(/^assumed: an `ip rule fwmark 0x539`/);
      expect(doc.find((line) => line.flow === 'app → a service')?.decidedBy.rule).toBe(
        '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
      );
      // Rules the plan has carry their setting, in the dump's own spelling.
      expect(doc.find((line) => line.flow === 'app → excluded port 3306')).toMatchObject({
        decidedBy: { rule: '-A ISTIO_OUTPUT -p tcp -m tcp --dport 3306 -j RETURN', origin: { setting: '-o 3306' } },
      });
    });

  it('--from-save: an unknown match is reported, not skipped; an unreadable file is bad input', async () => {
    const dump =
      '*nat\n:OUTPUT ACCEPT [0:0]\n:X - [0:0]\n-A OUTPUT -m bpf --bytecode "1,6 0 0 0" -j X\n-A X -p tcp -j REDIRECT --to-ports 15001\nCOMMIT\n';
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'iit-explain-')), 'dump');
    writeFileSync(file, dump);
    const result = await runCli(['explain', ...CAPTURE, '--from-save', file, '--dst', '198.51.100.5:80']);
    expect(result.stdout).toContain(
      '    - -A OUTPUT -m bpf --bytecode "1,6 0 0 0" -j X\n        (unknown match `-m bpf --bytecode 1,6 0 0 0`: assuming no match)\n',
    );
    expect(result.stdout).toContain('outcome: passes untouched: no rule captures it (nat OUTPUT policy ACCEPT)');
    const missing = await runCli([
      'explain',
      ...CAPTURE,
      '--from-save',
      '/nonexistent/dump',
      '--dst',
      '198.51.100.5:80',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--from-save="/nonexistent/dump": cannot read');
  });
});
