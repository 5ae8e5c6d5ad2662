#!/usr/bin/env node
/**
 * Apply: a full real run (`--network-namespace`, nft backend found by detection, read-back
 * verification included) into a fresh namespace, against the floor: `node -e 0` plus one
 * `iptables-nft-restore --noflush` of the same payload, entered with `nsenter --net=` as the
 * tool does. Interleaved, a fresh namespace per run, made and deleted outside the timed part.
 * Also counts the processes one run starts (strace, when installed).
 *
 *   node bench/apply.mjs [--runs 20] [--json]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { BIN, cleanEnv, fmt, median, namespaceName, now, quantile, run, UPSTREAM_ARGS } from './lib.mjs';

if (process.getuid?.() !== 0) {
  console.error('bench/apply.mjs needs root (network namespaces, iptables)');
  process.exit(2);
}

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 20) || 20;
const WARMUP = 3;
const env = cleanEnv();
const toolArgs = (ns) => [...UPSTREAM_ARGS, '--network-namespace', `/var/run/netns/${ns}`];

/** Runs `fn` with a fresh namespace (lo up), deleting it whatever happens. */
function withNamespace(label, fn) {
  const ns = namespaceName(label);
  run('ip', ['netns', 'add', ns]);
  try {
    run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    return fn(ns);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** The payload the tool pipes to iptables-nft-restore: its dry run's IPv4 section. */
const payload = run(BIN, ['--dry-run', ...UPSTREAM_ARGS], { env }).stdout.replace(/^#.*\n/gm, '');

function timeTool(ns) {
  const start = now();
  run(BIN, toolArgs(ns), { env });
  return now() - start;
}

function timeFloor(ns) {
  const start = now();
  run('node', ['-e', '0'], { env });
  run('nsenter', [`--net=/var/run/netns/${ns}`, '--', 'iptables-nft-restore', '--noflush'], { input: payload, env });
  return now() - start;
}

/** Processes the tool starts in one run, from strace's execve log (node itself not counted). */
function countProcesses() {
  if (spawnSync('strace', ['-V']).status !== 0) return undefined;
  const log = `/tmp/iit-bench-strace-${process.pid}.txt`;
  try {
    return withNamespace('strace', (ns) => {
      run('strace', ['-f', '-e', 'trace=execve', '-o', log, BIN, ...toolArgs(ns)], { env });
      // With -f, a call another process interrupts is split: `execve("…" <unfinished ...>`
      // now, `<... execve resumed>) = 0` later, both lines starting with the pid.
      const pending = new Map();
      const execs = [];
      for (const line of readFileSync(log, 'utf8').split('\n')) {
        const pid = line.split(' ')[0];
        const call = /execve\("([^"]+)"/.exec(line)?.[1];
        if (call && line.endsWith('<unfinished ...>')) pending.set(pid, call);
        else if (call && / = 0$/.test(line)) execs.push(call);
        else if (line.includes('<... execve resumed>') && / = 0$/.test(line) && pending.has(pid)) execs.push(pending.get(pid));
      }
      // The first two are the shebang's env and node; nsenter then execs each iptables binary.
      const children = execs.slice(2);
      return { processes: children.filter((file) => file.endsWith('/nsenter')).length, commands: children.filter((file) => !file.endsWith('/nsenter')).map((file) => file.split('/').pop()) };
    });
  } finally {
    rmSync(log, { force: true });
  }
}

const times = { tool: [], floor: [] };
for (let i = 0; i < WARMUP + runs; i++) {
  const order = i % 2 ? ['floor', 'tool'] : ['tool', 'floor'];
  for (const name of order) {
    const ms = withNamespace(name, (ns) => (name === 'tool' ? timeTool(ns) : timeFloor(ns)));
    if (i >= WARMUP) times[name].push(ms);
  }
}
const result = {
  runs,
  toolMs: median(times.tool),
  floorMs: median(times.floor),
  ratio: median(times.tool) / median(times.floor),
  toolP90: quantile(times.tool, 0.9),
  floorP90: quantile(times.floor, 0.9),
  payloadBytes: Buffer.byteLength(payload),
  spawned: countProcesses(),
};
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(result));
} else {
  console.log(`apply: tool ${fmt(result.toolMs)} ms, node -e 0 + one restore ${fmt(result.floorMs)} ms, ratio ${result.ratio.toFixed(2)}x (median of ${runs}; p90 ${fmt(result.toolP90)} / ${fmt(result.floorP90)} ms)`);
  if (result.spawned) console.log(`processes per run: ${result.spawned.processes} (${result.spawned.commands.join(', ')}), each through nsenter`);
}
