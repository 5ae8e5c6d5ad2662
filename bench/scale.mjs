#!/usr/bin/env node
/**
 * Scale: 1, 100, 1 000 and 10 000 excluded CIDRs (-x), and 1, 100, 1 000 inbound ports (-b).
 * For each size: generation time in-process (resolveSettings → deriveSettings → toCaptureConfig
 * → planCapture → renderRestore, median of 7 after 2 warm-ups), rule count, payload bytes, the
 * same with --compact-rules, and the time of a real run into a fresh namespace (median of 3;
 * nft, as detection chooses it; root only). Then the same for --native-nftables (generation:
 * planNftCapture → renderTransaction; apply: one checked `nft -f -` transaction, read back).
 * Large lists go through a --config file: one argument is limited to 128 KiB.
 *
 *   node bench/scale.mjs [--no-apply] [--json]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { excludedCidr } from './cidrs.mjs';
import { BIN, cleanEnv, fmt, median, namespaceName, now, ROOT, run } from './lib.mjs';

const {
  deriveSettings,
  planCapture,
  planNftCapture,
  renderRestore,
  renderTransaction,
  resolveSettings,
  toCaptureConfig,
} = await import(`${ROOT}dist/index.js`);

/** The i-th inbound port: every other port from 20000, so --compact-rules groups, not merges. */
const inboundPort = (i) => String(20000 + 2 * i);

const FLAGS = {
  'envoy-port': '15001',
  'inbound-capture-port': '15006',
  'proxy-uid': '1337',
  'istio-inbound-interception-mode': 'REDIRECT',
  'istio-service-cidr': '*',
  'enable-inbound-ipv6': false,
};
const NO_HOST = {
  interfaceAddresses: async () => [],
  readTextFile: async () => '',
  lookupUserId: async () => undefined,
};

async function generate(flags) {
  const { settings } = resolveSettings({ flags, env: {} });
  const derived = await deriveSettings(settings, {}, NO_HOST);
  const { config, options } = toCaptureConfig(derived.settings);
  if (options.nativeNftables) {
    const { transaction } = planNftCapture(config);
    const text = renderTransaction(transaction);
    return {
      rules: transaction.operations.filter((op) => op.object === 'rule').length,
      bytes: Buffer.byteLength(text),
    };
  }
  const plan = planCapture(config);
  const payload = plan.rulesets.map(renderRestore).join('');
  return { rules: plan.rulesets.reduce((n, r) => n + r.ops.length, 0), bytes: Buffer.byteLength(payload) };
}

async function timeGeneration(flags) {
  const times = [];
  let out;
  for (let i = 0; i < 9; i++) {
    const start = now();
    out = await generate(flags);
    if (i >= 2) times.push(now() - start);
  }
  return { ms: median(times), ...out };
}

/** Median of three real runs, each into a fresh namespace. */
function timeApply(flags, config) {
  return median([0, 1, 2].map(() => timeApplyOnce(flags, config)));
}

function timeApplyOnce(flags, config) {
  const dir = mkdtempSync(join(tmpdir(), 'iit-bench-'));
  const ns = namespaceName('scale');
  run('ip', ['netns', 'add', ns]);
  try {
    run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    const argv = [
      ...Object.entries(flags).map(([k, v]) => `--${k}=${v}`),
      '--config',
      file,
      '--network-namespace',
      `/var/run/netns/${ns}`,
    ];
    const start = now();
    run(BIN, argv, { env: cleanEnv() });
    return now() - start;
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const apply = !process.argv.includes('--no-apply') && process.getuid?.() === 0;
const rows = [];
const nftRows = [];
for (const [kind, sizes] of [
  ['-x CIDRs', [1, 100, 1000, 10000]],
  ['-b ports', [1, 100, 1000]],
]) {
  for (const n of sizes) {
    const list = Array.from({ length: n }, (_, i) => (kind === '-x CIDRs' ? excludedCidr(i) : inboundPort(i))).join(
      ',',
    );
    const key = kind === '-x CIDRs' ? 'istio-service-exclude-cidr' : 'istio-inbound-ports';
    const flags = { ...FLAGS, [key]: list, ...(kind === '-b ports' ? {} : { 'istio-inbound-ports': '*' }) };
    const plain = await timeGeneration(flags);
    const compact = await timeGeneration({ ...flags, 'compact-rules': true });
    const configKey = kind === '-x CIDRs' ? 'OUTBOUND_IPRANGES_EXCLUDE' : 'INBOUND_PORTS_INCLUDE';
    const cliFlags = { ...FLAGS };
    if (kind === '-x CIDRs') cliFlags['istio-inbound-ports'] = '*';
    const first = rows.find((row) => row.kind === kind);
    rows.push({
      kind,
      n,
      generationMs: plain.ms,
      // What each item adds, beyond the one-item run: constant when generation is linear.
      perItemUs: first ? ((plain.ms - first.generationMs) * 1000) / (n - first.n) : undefined,
      rules: plain.rules,
      bytes: plain.bytes,
      compactRules: compact.rules,
      compactBytes: compact.bytes,
      compactGenerationMs: compact.ms,
      applyMs: apply ? timeApply(cliFlags, { [configKey]: list }) : undefined,
      compactApplyMs: apply ? timeApply({ ...cliFlags, 'compact-rules': true }, { [configKey]: list }) : undefined,
    });
    const nftFlags = { ...flags, 'native-nftables': true };
    const nft = await timeGeneration(nftFlags);
    const nftCompact = await timeGeneration({ ...nftFlags, 'compact-rules': true });
    const nftCli = { ...cliFlags, 'native-nftables': true };
    nftRows.push({
      kind,
      n,
      generationMs: nft.ms,
      rules: nft.rules,
      bytes: nft.bytes,
      compactRules: nftCompact.rules,
      compactBytes: nftCompact.bytes,
      compactGenerationMs: nftCompact.ms,
      applyMs: apply ? timeApply(nftCli, { [configKey]: list }) : undefined,
      compactApplyMs: apply ? timeApply({ ...nftCli, 'compact-rules': true }, { [configKey]: list }) : undefined,
    });
  }
}
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ iptables: rows, nftables: nftRows }));
} else {
  for (const r of [...rows, ...nftRows.map((row) => ({ ...row, kind: `nft ${row.kind}` }))]) {
    console.log(
      `${r.kind} ${String(r.n).padStart(6)}: generate ${fmt(r.generationMs)} ms${r.perItemUs === undefined ? '' : ` (+${r.perItemUs.toFixed(1)} µs per added item)`}, ${r.rules} rules, ${r.bytes} bytes` +
        (r.applyMs === undefined ? '' : `, apply ${fmt(r.applyMs)} ms`) +
        ` | compact: ${r.compactRules} rules, ${r.compactBytes} bytes${r.compactApplyMs === undefined ? '' : `, apply ${fmt(r.compactApplyMs)} ms`}`,
    );
  }
}
