#!/usr/bin/env node
/**
 * Apply: a full real run (nft backend, its first-run path: the restore, then the read-back
 * verification) into a fresh namespace, against the floor: `node -e 0` plus one `iptables-nft-restore --noflush`
 * of the same payload; and the same for --native-nftables against `node -e 0` plus one
 * `nft -f -` of its transaction. Two ways each, each against its own floor:
 * - inside: as an init container runs, in the pod's namespace. The tool, and the floor's node
 *   and restore, are started there (bench/time-in-namespace.mjs times them from inside, so
 *   that entering the namespace is left out of both);
 * - outside: as a CNI agent would, `--network-namespace`: every command the tool starts goes
 *   through nsenter, as the floor's restore does.
 * Interleaved, a fresh namespace per run, all made before the timing and deleted after it.
 * Also counts the processes one run starts (strace, when installed).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BIN, cleanEnv, fmt, median, namespaceName, now, quantile, run, UPSTREAM_ARGS } from './lib.mjs';

if (process.getuid?.() !== 0) {
  console.error('bench/apply.mjs needs root (network namespaces, iptables)');
  process.exit(2);
}

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 20) || 20;
const WARMUP = 3;
const env = cleanEnv();
const TIMER = fileURLToPath(new URL('time-in-namespace.mjs', import.meta.url));
const NFT_ARGS = [...UPSTREAM_ARGS, '--native-nftables'];
/** How each mode starts the tool for namespace `ns`: [file, args]. */
const MODES = {
  inside: (ns) => ['nsenter', [`--net=/var/run/netns/${ns}`, BIN, ...UPSTREAM_ARGS]],
  outside: (ns) => [BIN, [...UPSTREAM_ARGS, '--network-namespace', `/var/run/netns/${ns}`]],
  nftInside: (ns) => ['nsenter', [`--net=/var/run/netns/${ns}`, BIN, ...NFT_ARGS]],
  nftOutside: (ns) => [BIN, [...NFT_ARGS, '--network-namespace', `/var/run/netns/${ns}`]],
};

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
/** The transaction --native-nftables pipes to `nft -f -`. */
const transaction = run(BIN, ['--dry-run', ...NFT_ARGS], { env }).stdout.replace(/^#.*\n/gm, '');

/** Steps timed from inside namespace `ns`, by bench/time-in-namespace.mjs. */
function timeInside(ns, steps) {
  const { stdout } = run('nsenter', [`--net=/var/run/netns/${ns}`, process.execPath, TIMER, JSON.stringify(steps)], {
    env,
  });
  return Number(stdout);
}

/** Steps timed from here, the root namespace. */
function timeOutside(steps) {
  const start = now();
  for (const [file, args, input] of steps) run(file, args, { env, ...(input === undefined ? {} : { input }) });
  return now() - start;
}

const node = ['node', ['-e', '0']];
const restore = ['iptables-nft-restore', ['--noflush'], payload];
const nftApply = ['nft', ['-f', '-'], transaction];
const entered = (ns, [file, args, input]) => ['nsenter', [`--net=/var/run/netns/${ns}`, '--', file, ...args], input];
/** What each measurement runs in namespace `ns`. */
const MEASURE = {
  // The init container: the tool, and the floor's node and restore, all started in the namespace.
  insideTool: (ns) => timeInside(ns, [[BIN, UPSTREAM_ARGS]]),
  insideFloor: (ns) => timeInside(ns, [node, restore]),
  // A CNI agent: the tool enters the namespace for each command; the floor's restore enters it once.
  outsideTool: (ns) => timeOutside([MODES.outside(ns)]),
  outsideFloor: (ns) => timeOutside([node, entered(ns, restore)]),
  // --native-nftables, against node and one `nft -f -` of its transaction.
  nftInsideTool: (ns) => timeInside(ns, [[BIN, NFT_ARGS]]),
  nftInsideFloor: (ns) => timeInside(ns, [node, nftApply]),
  nftOutsideTool: (ns) => timeOutside([MODES.nftOutside(ns)]),
  nftOutsideFloor: (ns) => timeOutside([node, entered(ns, nftApply)]),
};

/** Processes the tool starts in one run, from strace's execve log (node itself not counted). */
function countProcesses(mode) {
  if (spawnSync('strace', ['-V']).status !== 0) return undefined;
  const log = `/tmp/iit-bench-strace-${process.pid}.txt`;
  try {
    return withNamespace('strace', (ns) => {
      const [file, args] = MODES[mode](ns);
      run('strace', ['-f', '-e', 'trace=execve', '-o', log, file, ...args], { env });
      // With -f, a call another process interrupts is split: `execve("…" <unfinished ...>`
      // now, `<... execve resumed>) = 0` later, both lines starting with the pid.
      const pending = new Map();
      const execs = [];
      for (const line of readFileSync(log, 'utf8').split('\n')) {
        const pid = line.split(' ')[0];
        const call = /execve\("([^"]+)"/.exec(line)?.[1];
        if (call && line.endsWith('<unfinished ...>')) pending.set(pid, call);
        else if (call && / = 0$/.test(line)) execs.push(call);
        else if (line.includes('<... execve resumed>') && / = 0$/.test(line) && pending.has(pid))
          execs.push(pending.get(pid));
      }
      // Before node: the shebang's env (and, inside, the nsenter that starts the tool); after
      // it, each command, directly or through an nsenter of its own.
      const children = execs.slice(execs.findIndex((file) => file.endsWith('/node')) + 1);
      const commands = children.filter((file) => !file.endsWith('/nsenter')).map((file) => file.split('/').pop());
      return {
        processes: commands.length,
        commands,
        throughNsenter: children.some((file) => file.endsWith('/nsenter')),
      };
    });
  } finally {
    rmSync(log, { force: true });
  }
}

const times = Object.fromEntries(Object.keys(MEASURE).map((name) => [name, []]));
const names = Object.keys(times);
// Every namespace is made before the timing and deleted after it: the kernel tears a namespace
// down in the background, which would otherwise slow whichever run came next.
const pool = [];
try {
  for (let i = 0; i < (WARMUP + runs) * names.length; i++) {
    const ns = namespaceName('pool');
    run('ip', ['netns', 'add', ns]);
    pool.push(ns);
    run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  }
  const fresh = pool.values();
  for (let i = 0; i < WARMUP + runs; i++) {
    // Rotate the order, so that none always follows another.
    for (const name of names.map((_, k) => names[(k + i) % names.length])) {
      const ms = MEASURE[name](fresh.next().value);
      if (i >= WARMUP) times[name].push(ms);
    }
  }
} finally {
  for (const ns of pool) spawnSync('ip', ['netns', 'del', ns]);
}
const result = {
  runs,
  payloadBytes: Buffer.byteLength(payload),
  transactionBytes: Buffer.byteLength(transaction),
  modes: Object.fromEntries(
    Object.keys(MODES).map((mode) => {
      const [tool, floor] = [times[`${mode}Tool`], times[`${mode}Floor`]];
      return [
        mode,
        {
          toolMs: median(tool),
          toolP90: quantile(tool, 0.9),
          floorMs: median(floor),
          ratio: median(tool) / median(floor),
          spawned: countProcesses(mode),
        },
      ];
    }),
  ),
};
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(result));
} else {
  for (const [mode, r] of Object.entries(result.modes)) {
    const spawned = r.spawned ? `; ${r.spawned.processes} processes (${r.spawned.commands.join(', ')})` : '';
    console.log(
      `${mode.padEnd(10)} tool ${fmt(r.toolMs)} ms vs node -e 0 + one ${mode.startsWith('nft') ? 'nft -f -' : 'restore'} ${fmt(r.floorMs)} ms: ${r.ratio.toFixed(2)}x (median of ${runs}; tool p90 ${fmt(r.toolP90)} ms)${spawned}`,
    );
  }
}
