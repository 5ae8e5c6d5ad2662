/**
 * `explain --native-nftables`, no machine asked: every rule the nft renderer writes (upstream's
 * cases and our own options) is understood in both spellings, every planned rule carries its
 * setting, and the plan, an `nft list ruleset` listing of it (`--from-save`) and the JSON agree.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CaptureConfig } from '../src/config/capture-config.js';
import { parseNftRule } from '../src/explain/nft/parse.js';
import type { NftTableState } from '../src/model/nftables.js';
import { parseCidr, type Cidr } from '../src/model/network.js';
import { planNftCapture } from '../src/plan/nft/plan-nft.js';
import { resolveSettings } from '../src/config/settings.js';
import { toCaptureConfig } from '../src/config/to-capture-config.js';
import { ruleText } from '../src/render/nft/transaction.js';
import { listedRule } from '../src/state/nft/listing.js';
import { REDIRECT_IPV4 } from './support/capture-config.js';
import { REPO_ROOT, runCli } from './support/cli.js';

const cidr = (text: string) => parseCidr(text) as Cidr;
const port = (n: number) => ({ first: n, last: n });

/** Configurations that between them make the planner write every kind of rule it has. */
const CONFIGS: Record<string, CaptureConfig> = {
  redirect: REDIRECT_IPV4,
  'everything, TPROXY, dual stack, DNS servers, compact sets, strict': {
    ...REDIRECT_IPV4,
    families: ['ipv4', 'ipv6'],
    inbound: {
      ...REDIRECT_IPV4.inbound,
      ports: { kind: 'all', except: [port(15020), port(15021), { first: 9000, last: 9010 }] },
      interception: { mode: 'tproxy', mark: 1337, routeTable: 133 },
    },
    outbound: {
      proxyPort: 15001,
      cidrs: {
        include: [cidr('10.0.0.0/8'), cidr('172.16.0.0/12'), cidr('fd00::/8')],
        exclude: [cidr('10.96.0.0/12'), cidr('10.200.0.0/16'), cidr('fd00:1::/32')],
      },
      ports: { include: [port(8443), port(9443)], exclude: [port(3306), port(5432)] },
      ownerGroups: { kind: 'only', items: ['1000', '2000'] },
    },
    dns: { mode: 'servers', servers: [] },
    interfaces: { exclude: ['eth9', 'veth+'], virtual: ['vnet0'] },
    dropInvalid: true,
    strict: true,
    compactRules: true,
  },
  'TPROXY, inbound ports only, DNS all, owner groups excluded, IPv6 off strict': {
    ...REDIRECT_IPV4,
    inbound: {
      ...REDIRECT_IPV4.inbound,
      ports: { kind: 'only', items: [port(8080), port(9090)] },
      interception: { mode: 'tproxy', mark: 1337, routeTable: 133 },
    },
    outbound: { ...REDIRECT_IPV4.outbound, ownerGroups: { kind: 'all', except: ['1500', 'nobody'] } },
    proxy: { uids: ['1337', 'istio-proxy'], gids: ['1337'] },
    dns: { mode: 'all' },
    dropInvalid: true,
    strict: true,
  },
};

const NO_IDS = { users: new Map<string, number>(), groups: new Map<string, number>() };

/** The plan's tables as `nft list ruleset` prints them. */
function listing(tables: readonly NftTableState[]): string {
  return tables
    .map((table) => {
      const chains = table.chains.map(({ chain, rules }) => {
        const hook = chain.base
          ? [`\t\ttype ${chain.base.type} hook ${chain.base.hook} priority ${chain.base.priority}; policy accept;`]
          : [];
        const lines = [...hook, ...rules.map((r) => `\t\t${listedRule(r, NO_IDS)}`)];
        return `\tchain ${chain.name} {\n${lines.join('\n')}\n\t}\n`;
      });
      return `table inet ${table.name} {\n${chains.join('\n')}}\n`;
    })
    .join('');
}

describe('every rule the nft renderer writes is understood', () => {
  const cases = join(REPO_ROOT, 'test/fixtures/nftables');
  const goldens = readdirSync(cases)
    .filter((name) => statSync(join(cases, name)).isDirectory())
    .map((name) => [name, readFileSync(join(cases, name, 'expected.golden'), 'utf8')] as const);

  it.each(goldens)("upstream's case %s: every rule's expressions, with none unknown", (_name, golden) => {
    const rules = golden
      .split('\n')
      .map((line) => /^(?:add|insert) rule inet \S+ \S+ (?:index \d+ )?(.*)$/.exec(line)?.[1])
      .filter((rule): rule is string => rule !== undefined);
    for (const rule of rules) {
      const items = parseNftRule(rule);
      expect(
        items.filter((i) => i.kind === 'unknownMatch' || i.kind === 'unknownStatement'),
        rule,
      ).toEqual([]);
      expect(items.map((i) => i.text).join(' '), rule).toBe(rule);
    }
  });

  it.each(Object.entries(CONFIGS))('%s: as written and as nft lists it; each rule has its setting', (_name, config) => {
    const plan = planNftCapture(config);
    const rules = plan.tables.flatMap((t) => t.chains.flatMap((c) => c.rules));
    expect(rules.length).toBeGreaterThan(10);
    for (const rule of rules) {
      for (const text of [ruleText(rule), listedRule(rule, NO_IDS)]) {
        const unknown = parseNftRule(text).filter((i) => i.kind === 'unknownMatch' || i.kind === 'unknownStatement');
        expect(unknown, text).toEqual([]);
      }
      expect(rule.origin, ruleText(rule)).toBeDefined();
    }
  });
});

const CAPTURE = ['-p', '15001', '-z', '15006', '-u', '1337', '-g', '1337', '--host-ip', '192.0.2.10'];

async function explain(...args: string[]) {
  const result = await runCli(['explain', '--native-nftables', ...CAPTURE, ...args]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout;
}

type Doc = {
  outcome: string;
  toPort?: number;
  decidedBy: { table: string; chain: string; rule: string; position?: number; origin?: { setting: string } };
  path: { table: string; chain: string; rule: string; matched: boolean }[];
  flow?: string;
};

const scratch = mkdtempSync(join(tmpdir(), 'explain-nft-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('explain --native-nftables', () => {
  it('walks the plan: the path by table and chain, the deciding rule and its setting, the outcome in words', async () => {
    const text = await explain(
      '--enable-inbound-ipv6=false',
      '-b',
      '*',
      '-i',
      '*',
      '-x',
      '10.96.0.0/12',
      '--dst',
      '10.96.0.5:443',
      '--uid',
      '1000',
    );
    expect(text).toContain('plan (native nftables), ipv4: outbound tcp 192.0.2.10:40000 → 10.96.0.5:443');
    expect(text).toContain('  inet istio-proxy-nat istio-output\n');
    expect(text).toContain(
      '    + ip daddr 10.96.0.0/12 counter return  [-x 10.96.0.0/12: destination 10.96.0.0/12 is excluded]',
    );
    expect(text).toContain('outcome: passes untouched: destination 10.96.0.0/12 is excluded (`-x 10.96.0.0/12`)');
  });

  it('--json: the schema of the iptables walk, with nft tables and rules', async () => {
    const doc = JSON.parse(
      await explain(
        '--enable-inbound-ipv6=false',
        '-m',
        'TPROXY',
        '-b',
        '*',
        '-d',
        '15021',
        '--direction',
        'inbound',
        '--dst',
        '192.0.2.10:8080',
        '--json',
      ),
    ) as Doc;
    expect(doc).toMatchObject({
      outcome: 'tproxy',
      toPort: 15006,
      decidedBy: {
        table: 'inet istio-proxy-mangle',
        chain: 'istio-tproxy',
        rule: 'meta l4proto tcp ip daddr != 127.0.0.1/32 tproxy ip to :15006 meta mark set 1337 counter accept',
        position: 1,
        origin: { setting: '-m TPROXY -z 15006' },
      },
    });
    expect(doc.path.filter((s) => s.matched).map((s) => `${s.chain}: ${s.rule}`)).toEqual([
      'prerouting: meta l4proto tcp counter jump istio-inbound',
      'istio-inbound: meta l4proto tcp counter jump istio-tproxy',
      'istio-tproxy: meta l4proto tcp ip daddr != 127.0.0.1/32 tproxy ip to :15006 meta mark set 1337 counter accept',
    ]);
    const excluded = JSON.parse(
      await explain(
        '--enable-inbound-ipv6=false',
        '-m',
        'TPROXY',
        '-b',
        '*',
        '-d',
        '15021',
        '--direction',
        'inbound',
        '--dst',
        '192.0.2.10:15021',
        '--json',
      ),
    ) as Doc;
    expect(excluded).toMatchObject({ outcome: 'accept', decidedBy: { origin: { setting: '-d 15021' } } });
  });

  it('--from-save with an nft listing decides every report flow as the plan does, with the same settings', async () => {
    const flags = ['-m', 'TPROXY', '-b', '*', '-d', '15021', '-i', '*', '-x', '10.96.0.0/12,fd00:1::/32'];
    const dual = [...flags, '--redirect-dns', '--capture-all-dns', '--enable-inbound-ipv6=true'];
    const { config } = toCaptureConfig(
      resolveSettings({
        flags: {
          'proxy-uid': '1337',
          'proxy-gid': '1337',
          'istio-inbound-interception-mode': 'TPROXY',
          'istio-inbound-ports': '*',
          'istio-local-exclude-ports': '15021',
          'istio-service-cidr': '*',
          'istio-service-exclude-cidr': '10.96.0.0/12,fd00:1::/32',
          'redirect-dns': true,
          'capture-all-dns': true,
          'enable-inbound-ipv6': true,
        },
        env: {},
      }).settings,
    );
    // What nft prints after loading the plan, next to someone else's (empty) table.
    const file = join(scratch, 'ruleset.nft');
    writeFileSync(file, `table ip nat {\n}\n${listing(planNftCapture(config).tables)}`);
    const plan = JSON.parse(await explain(...dual, '--report', '--json')) as Doc[];
    const saved = JSON.parse(await explain(...dual, '--from-save', file, '--report', '--json')) as Doc[];
    const verdicts = (docs: Doc[]) =>
      docs.map((d) => [
        d.flow,
        d.outcome,
        d.toPort,
        d.decidedBy.table,
        d.decidedBy.chain,
        d.decidedBy.position,
        d.decidedBy.origin,
      ]);
    expect(saved.length).toBeGreaterThan(20);
    expect(verdicts(saved)).toEqual(verdicts(plan));
    expect(new Set(plan.map((d) => d.outcome))).toEqual(new Set(['accept', 'redirect', 'tproxy']));
    expect(plan.every((d) => d.decidedBy.origin !== undefined || d.decidedBy.rule.startsWith('policy'))).toBe(true);
  });

  it('refuses an nft listing mixed with iptables-save dumps, naming the flag and file', async () => {
    const nft = join(scratch, 'mixed.nft');
    const save = join(scratch, 'mixed.save');
    writeFileSync(nft, 'table inet istio-proxy-nat {\n}\n');
    writeFileSync(save, '# Generated by iptables-save v1.8.9\n*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n');
    const result = await runCli([
      'explain',
      ...CAPTURE,
      '--enable-inbound-ipv6=false',
      '--from-save',
      save,
      '--from-save',
      nft,
      '--dst',
      '198.51.100.5:80',
    ]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('--from-save');
    expect(result.stderr).toContain(nft);
  });
});
