#!/usr/bin/env node
/**
 * Load from a node agent: the tool applied from outside (`--network-namespace`, as a CNI
 * plugin runs it) into N fresh namespaces (default 200), one at a time and 4 at a time. Every
 * run must exit 0, and each namespace is then checked against a reference: the rules one run
 * leaves in a namespace of its own (read with iptables-nft-save, comments and counters left
 * out). Reports the total and the per-pod times. Not a test: it only measures, and fails
 * loudly when a run or a check fails. Namespaces are all made before the timing and deleted
 * after it.
 *
 * node bench/node-agent.mjs [--pods 200] [--parallel 1,4] [--json | --markdown]
 */
import { spawn, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { BIN, cleanEnv, fmt, median, namespaceName, now, quantile, run, UPSTREAM_ARGS } from './lib.mjs';

if (process.getuid?.() !== 0) {
  console.error('bench/node-agent.mjs needs root (network namespaces, iptables)');
  process.exit(2);
}

const option = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : fallback;
};
const pods = Number(option('--pods', '200'));
const parallels = option('--parallel', '1,4').split(',').map(Number);
const env = cleanEnv();
const ARGS = [...UPSTREAM_ARGS, '--force-iptables-binary', 'nft'];

const makeNamespace = (label) => {
  const ns = namespaceName(label);
  run('ip', ['netns', 'add', ns]);
  run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  return ns;
};
const deleteNamespace = (ns) => spawnSync('ip', ['netns', 'del', ns]);

/** A namespace's nft rules as comparable text. */
const rules = (ns) =>
  run('ip', ['netns', 'exec', ns, 'iptables-nft-save'])
    .stdout.split('\n')
    .filter((line) => !line.startsWith('#'))
    .map((line) => line.replace(/ \[\d+:\d+\]$/, ''))
    .join('\n');

/** One run from outside; resolves to its wall time and exit code. */
function applyInto(ns) {
  return new Promise((resolve, reject) => {
    const start = now();
    let stderr = '';
    const child = spawn(BIN, [...ARGS, '--network-namespace', `/var/run/netns/${ns}`], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: now() - start, code, stderr }));
  });
}

const reference = (() => {
  const ns = makeNamespace('ref');
  try {
    run(BIN, [...ARGS, '--network-namespace', `/var/run/netns/${ns}`], { env });
    return rules(ns);
  } finally {
    deleteNamespace(ns);
  }
})();

const results = {};
for (const parallel of parallels) {
  const namespaces = Array.from({ length: pods }, () => makeNamespace(`p${parallel}`));
  try {
    const load = loadavg()[0];
    const times = [];
    let next = 0;
    const start = now();
    const worker = async () => {
      while (next < namespaces.length) {
        const ns = namespaces[next++];
        const result = await applyInto(ns);
        if (result.code !== 0) throw new Error(`run into ${ns} exited ${result.code}: ${result.stderr}`);
        times.push(result.ms);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    const totalMs = now() - start;
    const wrong = namespaces.filter((ns) => rules(ns) !== reference);
    if (wrong.length > 0) throw new Error(`${wrong.length} namespaces do not hold the plan, e.g. ${wrong[0]}`);
    results[parallel] = {
      pods,
      totalMs,
      podsPerSecond: pods / (totalMs / 1000),
      medianMs: median(times),
      p90Ms: quantile(times, 0.9),
      maxMs: Math.max(...times),
      loadBefore: load,
      loadAfter: loadavg()[0],
    };
    process.stderr.write(`${parallel} at a time: ${pods} pods in ${fmt(totalMs)} ms, all exit 0 and verified\n`);
  } finally {
    for (const ns of namespaces) deleteNamespace(ns);
  }
}

if (process.argv.includes('--json')) console.log(JSON.stringify(results));
else {
  const lines = [
    `| runs at once | pods | total | pods/s | per pod: median | p90 | max | load average (1 min) before → after |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...Object.entries(results).map(
      ([parallel, r]) =>
        `| ${parallel} | ${r.pods} | ${(r.totalMs / 1000).toFixed(2)} s | ${r.podsPerSecond.toFixed(1)} | ${fmt(r.medianMs)} ms | ${fmt(r.p90Ms)} ms | ${fmt(r.maxMs)} ms | ${r.loadBefore.toFixed(2)} → ${r.loadAfter.toFixed(2)} |`,
    ),
  ];
  console.log(lines.join('\n'));
}
