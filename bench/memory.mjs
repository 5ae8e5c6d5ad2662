#!/usr/bin/env node
/**
 * Memory: the peak resident set (the kernel's ru_maxrss) of a run of the tool against that of
 * `node -e 0`, median of 7 each, interleaved: a dry run with the injector's usual arguments,
 * the same with 10 000 `-x` CIDRs (from a --config file), and, as root, a real run inside a
 * fresh namespace (the peak of the run and every process it starts). python3 reads the peak:
 * node has no way to ask for a child's.
 *
 *   node bench/memory.mjs [--json]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { excludedCidrs } from './cidrs.mjs';
import { BIN, cleanEnv, median, namespaceName, run, UPSTREAM_ARGS } from './lib.mjs';

const RUNS = 7;
const env = cleanEnv();
/** Runs argv[1:] with no stdio, and prints the peak RSS (KiB) of it and everything it waited for. */
const PEAK =
  'import resource, subprocess, sys\nr = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\nif r.returncode: sys.exit(r.stderr.decode())\nprint(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)';

/** Peak RSS of one run of `file args`, in MiB. */
function peakMiB(file, args) {
  return Number(run('python3', ['-c', PEAK, file, ...args], { env }).stdout) / 1024;
}

const dir = mkdtempSync(join(tmpdir(), 'iit-bench-'));
const config = join(dir, 'config.json');
writeFileSync(config, JSON.stringify({ OUTBOUND_IPRANGES_EXCLUDE: excludedCidrs(10_000).join(',') }));
const root = process.getuid?.() === 0;
/** The usual arguments less `-x ""`, which would win over the file's exclude list. */
const withoutExcludes = UPSTREAM_ARGS.filter((arg, i) => arg !== '-x' && UPSTREAM_ARGS[i - 1] !== '-x');

/** What is measured: name → a function that runs it once and returns its peak. */
const CASES = {
  node: () => peakMiB('node', ['-e', '0']),
  dryRun: () => peakMiB(BIN, ['--dry-run', ...UPSTREAM_ARGS]),
  dryRun10k: () => peakMiB(BIN, ['--dry-run', ...withoutExcludes, '--config', config]),
  ...(root
    ? {
        apply: () => {
          const ns = namespaceName('memory');
          run('ip', ['netns', 'add', ns]);
          try {
            return peakMiB('nsenter', [`--net=/var/run/netns/${ns}`, BIN, ...UPSTREAM_ARGS]);
          } finally {
            spawnSync('ip', ['netns', 'del', ns]);
          }
        },
      }
    : {}),
};

const peaks = Object.fromEntries(Object.keys(CASES).map((name) => [name, []]));
try {
  for (let i = 0; i < RUNS; i++) for (const [name, measure] of Object.entries(CASES)) peaks[name].push(measure());
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const node = median(peaks.node);
const result = {
  runs: RUNS,
  nodeMiB: node,
  cases: Object.fromEntries(
    Object.entries(peaks)
      .filter(([name]) => name !== 'node')
      .map(([name, values]) => [name, { peakMiB: median(values), ratio: median(values) / node }]),
  ),
};
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(result));
} else {
  console.log(`node -e 0: ${node.toFixed(1)} MiB (median of ${RUNS})`);
  for (const [name, r] of Object.entries(result.cases))
    console.log(`${name.padEnd(10)} ${r.peakMiB.toFixed(1)} MiB, ${r.ratio.toFixed(2)}x`);
}
