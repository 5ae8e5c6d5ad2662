/**
 * Property and differential tests over random upstream-valid configurations (test/property/):
 * for each, the tool's dry-run payloads must equal an independent model of upstream's rules
 * (byte for byte, per family), `--config` and flags + env must give the same bytes, and the
 * properties the spec states hold on their own (checked apart from the model, so a failure
 * says which one broke). `npm test` runs a fixed seed and a bounded count; `npm run fuzz --
 * --seed N --count M` runs any (PROPERTY_SEED / PROPERTY_COUNT reach this file).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { forbiddenHostFacts, runCli } from './support/cli.js';
import { generateCase, type GeneratedCase } from './property/generate.js';
import { type CidrFacts, upstreamPayloads } from './property/upstream-model.js';

const SEED = Number(process.env.PROPERTY_SEED ?? 16);
const COUNT = Number(process.env.PROPERTY_COUNT ?? 300);
const BATCH = 100;

const scratch = mkdtempSync(join(tmpdir(), 'property-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const HEADERS = ['# ipv4: iptables-restore --noflush', '# ipv6: ip6tables-restore --noflush'] as const;

/** Each family's payload from a dry run's stdout (comment lines are not payload). */
function payloads(stdout: string): { ipv4: string; ipv6: string } {
  const [, afterV4 = ''] = stdout.split(`${HEADERS[0]}\n`);
  const [v4 = '', afterV6] = afterV4.split(`${HEADERS[1]}\n`);
  const strip = (text: string) =>
    text
      .split(/(?<=\n)/)
      .filter((line) => !line.startsWith('#'))
      .join('');
  return { ipv4: strip(v4), ipv6: afterV6 === undefined ? '' : strip(afterV6) };
}

const split = (text: unknown) =>
  String(text ?? '')
    .split(',')
    .filter((item) => item !== '');

/** Every address after -d/-s in a payload. */
const addresses = (payload: string) => [...payload.matchAll(/ (?:!\s)?-[ds] (\S+)/g)].map((m) => m[1] ?? '');

/** The properties the spec states, each on its own. Throws with the property's name. */
function checkProperties(c: GeneratedCase, out: { ipv4: string; ipv6: string }): void {
  const r = c.record;
  const ipv6 = r.ENABLE_INBOUND_IPV6 === true;
  const families = ipv6 ? (['ipv4', 'ipv6'] as const) : (['ipv4'] as const);
  const facts = (item: string) => c.cidrs.get(item) as CidrFacts;
  expect(out.ipv6 !== '', 'an IPv6 payload exactly when IPv6 is enabled').toBe(ipv6);
  for (const family of families) {
    const payload = out[family];
    const lines = payload.split('\n');
    // Each port item appears verbatim.
    for (const item of split(r.OUTBOUND_PORTS_EXCLUDE)) {
      expect(lines, `-o item ${JSON.stringify(item)} verbatim`).toContain(
        `-A ISTIO_OUTPUT -p udp --dport ${item} -j RETURN`,
      );
    }
    for (const item of split(r.OUTBOUND_PORTS_INCLUDE)) {
      expect(lines, `-q item ${JSON.stringify(item)} verbatim`).toContain(
        `-A ISTIO_OUTPUT -p tcp --dport ${item} -j ISTIO_REDIRECT`,
      );
    }
    expect(payload, '-e verbatim').toContain(`-A ISTIO_INBOUND -p tcp --dport ${r.INBOUND_TUNNEL_PORT} -j RETURN`);
    // Each excluded CIDR: canonical, unmasked, in its family's payload, in input order.
    const excluded = split(r.OUTBOUND_IPRANGES_EXCLUDE)
      .map(facts)
      .filter((f) => f.family === family)
      .map((f) => `-A ISTIO_OUTPUT -d ${f.canonical} -j RETURN`);
    const loopbackLine = lines.findIndex((line) => /^-A ISTIO_OUTPUT -d \S+ -j RETURN$/.test(line));
    expect(lines.slice(loopbackLine + 1, loopbackLine + 1 + excluded.length), 'excluded CIDRs in order').toEqual(
      excluded,
    );
    if (r.OUTBOUND_IPRANGES_INCLUDE !== '*') {
      const included = split(r.OUTBOUND_IPRANGES_INCLUDE)
        .map(facts)
        .filter((f) => f.family === family)
        .map((f) => `-A ISTIO_OUTPUT -d ${f.canonical} -j ISTIO_REDIRECT`);
      expect(
        lines.filter((line) => /^-A ISTIO_OUTPUT -d \S+ -j ISTIO_REDIRECT$/.test(line)),
        'included CIDRs in order',
      ).toEqual(included);
    }
    // The planner never emits a rule for the other family.
    for (const address of addresses(payload)) {
      expect(address.includes(':'), `${family} payload holds only ${family} addresses: ${address}`).toBe(
        family === 'ipv6',
      );
    }
    // Has-loopback suppression, global across families.
    const loopback =
      r.OUTBOUND_IPRANGES_INCLUDE !== '*' && split(r.OUTBOUND_IPRANGES_INCLUDE).some((item) => facts(item).loopback);
    const owners = split(r.PROXY_UID).length + split(r.PROXY_GID).length;
    expect(/-o lo (-p tcp ! --dport 53 )?-m owner ! --[ug]id-owner/.test(payload), 'has-loopback suppression').toBe(
      !loopback && owners > 0,
    );
  }
}

async function runCase(index: number): Promise<void> {
  const seed = (SEED * 1_000_003 + index) >>> 0;
  const c = generateCase(seed);
  const where = `seed ${SEED} case ${index} (generateCase(${seed}))`;
  try {
    const path = join(scratch, 'config.json');
    writeFileSync(path, JSON.stringify(c.record));
    const viaConfig = await runCli(['--config', path, '--dry-run'], {}, forbiddenHostFacts());
    const viaFlags = await runCli(c.argv, c.env, forbiddenHostFacts());
    expect(viaConfig.code, viaConfig.stderr).toBe(0);
    expect(viaFlags.code, viaFlags.stderr).toBe(0);
    expect(viaFlags.stdout, '--config and flags + env give the same bytes').toBe(viaConfig.stdout);
    const out = payloads(viaConfig.stdout);
    checkProperties(c, out);
    const model = upstreamPayloads(c.record, c.cidrs);
    expect(out.ipv4, 'IPv4 payload equals the model of upstream').toBe(model.ipv4);
    expect(out.ipv6, 'IPv6 payload equals the model of upstream').toBe(model.ipv6);
  } catch (error) {
    const detail = JSON.stringify({ record: c.record, argv: c.argv, env: c.env }, null, 1);
    throw new Error(`${where}: ${(error as Error).message}\n${detail}`);
  }
}

describe(`random upstream-valid configurations (seed ${SEED}, ${COUNT} cases)`, () => {
  const batches = Math.ceil(COUNT / BATCH);
  for (let b = 0; b < batches; b++) {
    const from = b * BATCH;
    const to = Math.min(COUNT, from + BATCH);
    it(`cases ${from}-${to - 1}: model parity, --config = flags + env, spec properties`, async () => {
      for (let i = from; i < to; i++) await runCase(i);
    });
  }
});

describe('the generator itself', () => {
  const cases = Array.from({ length: 300 }, (_, i) => generateCase((SEED * 1_000_003 + i) >>> 0));
  const items = (key: string) => cases.flatMap((c) => String(c.record[key] ?? '').split(','));
  const cidrs = cases.flatMap((c) => [...c.cidrs.entries()]);
  const ports = [...items('OUTBOUND_PORTS_EXCLUDE'), ...items('OUTBOUND_PORTS_INCLUDE')];

  it.each([
    ['upper-case IPv6', () => cidrs.some(([typed]) => /[A-F]/.test(typed))],
    ['zero-padded IPv6 groups', () => cidrs.some(([typed]) => /(^|:)0[0-9a-fA-F]{3}(:|$)/.test(typed))],
    ['fully expanded IPv6', () => cidrs.some(([typed]) => typed.split(':').length === 8 && !typed.includes('::'))],
    ['IPv4-mapped IPv6', () => cidrs.some(([, f]) => f.canonical.startsWith('::ffff:'))],
    [
      'IPv4-mapped loopback',
      () => cidrs.some(([, f]) => f.family === 'ipv6' && f.loopback && f.canonical.startsWith('::ffff:')),
    ],
    ['4-in-6 (dotted tail) spellings', () => cidrs.some(([typed, f]) => f.family === 'ipv6' && /\.\d+\//.test(typed))],
    ['one-port ranges', () => ports.some((p) => /^(\d+):\1$/.test(p))],
    ['open ranges', () => ports.some((p) => /^:\d+$|^\d+:$/.test(p))],
    ['space-padded items', () => ports.some((p) => p.startsWith(' '))],
    ['owner ranges', () => items('PROXY_UID').some((u) => /^\d+[-:]\d+$/.test(u))],
    [
      'duplicate items',
      () =>
        cases.some((c) => {
          const l = String(c.record.OUTBOUND_PORTS_EXCLUDE).split(',').filter(Boolean);
          return new Set(l).size < l.length;
        }),
    ],
    ['empty items', () => ports.includes('')],
    ['-u ,', () => cases.some((c) => c.record.PROXY_UID === ',')],
  ])('draws %s', (_what, found) => {
    expect(found()).toBe(true);
  });
});
