#!/usr/bin/env node
/**
 * Cold start: `bin/istio-iptables --dry-run` with the injector's usual arguments against
 * `node -e 0`, interleaved (one of each per round, after a warm-up), median wall time of each
 * and their ratio; an empty ES module alongside, the floor of any ESM program. Run twice: in a clean environment (no NODE_EXTRA_CA_CERTS / NODE_OPTIONS)
 * and in the inherited one.
 *
 *   node bench/cold-start.mjs [--runs 30] [--json]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BIN, cleanEnv, fmt, median, quantile, timeSpawn, UPSTREAM_ARGS } from './lib.mjs';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 60) || 60;
const WARMUP = 5;

/** An empty ES module: the floor for any ESM program, the CLI included. */
const emptyModule = join(mkdtempSync(join(tmpdir(), 'iit-bench-')), 'empty.mjs');
writeFileSync(emptyModule, '');

function measure(env) {
  const commands = {
    node: ['node', ['-e', '0']],
    esm: ['node', [emptyModule]],
    tool: [BIN, ['--dry-run', ...UPSTREAM_ARGS]],
    nft: [BIN, ['--dry-run', '--native-nftables', ...UPSTREAM_ARGS]],
  };
  const times = { node: [], esm: [], tool: [], nft: [] };
  const options = { env, stdio: ['ignore', 'pipe', 'pipe'] };
  for (let i = 0; i < WARMUP; i++) for (const [file, args] of Object.values(commands)) timeSpawn(file, args, options);
  for (let i = 0; i < runs; i++) {
    // Alternate which goes first, so neither always follows the other.
    const order = i % 2 ? ['nft', 'tool', 'esm', 'node'] : ['node', 'esm', 'tool', 'nft'];
    for (const name of order) times[name].push(timeSpawn(...commands[name], options));
  }
  const node = median(times.node);
  const tool = median(times.tool);
  const esm = median(times.esm);
  const nft = median(times.nft);
  return {
    runs,
    nodeMs: node,
    esmMs: esm,
    toolMs: tool,
    esmRatio: esm / node,
    ratio: tool / node,
    nftMs: nft,
    nftRatio: nft / node,
    nodeP90: quantile(times.node, 0.9),
    toolP90: quantile(times.tool, 0.9),
  };
}

const result = { clean: measure(cleanEnv()), inherited: measure(process.env) };
rmSync(dirname(emptyModule), { recursive: true, force: true });
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(result));
} else {
  for (const [name, r] of Object.entries(result)) {
    console.log(
      `${name.padEnd(9)} node -e 0 ${fmt(r.nodeMs)} ms, empty ES module ${fmt(r.esmMs)} ms (${r.esmRatio.toFixed(2)}x), tool --dry-run ${fmt(r.toolMs)} ms, ratio ${r.ratio.toFixed(2)}x; with --native-nftables ${fmt(r.nftMs)} ms, ${r.nftRatio.toFixed(2)}x (median of ${r.runs}; p90 ${fmt(r.nodeP90)} / ${fmt(r.toolP90)} ms)`,
    );
  }
}
