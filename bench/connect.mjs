#!/usr/bin/env node
/**
 * What a long exclude list costs each new connection, with and without --compact-rules.
 *
 * Two namespaces joined by a veth, documentation addresses only: the pod 198.51.100.1, a peer
 * 198.51.100.2 with a listener. The tool is applied in the pod with 10 000 excluded CIDRs (the
 * runs of /30s of scale.mjs, in 198.18.0.0/15, which nothing is sent to) followed by the peer's
 * /32, so that a connection to the peer walks the whole list before its RETURN. A python client
 * in the pod then opens and closes connections to the peer (bounded count, 2 s timeouts) and
 * the median connect() time is reported: without any rules; with connection tracking only
 * (which every capture by REDIRECT needs); with the tool's rules excluding only the peer; with
 * the plain list; with it compacted; and the last three with --native-nftables (one rule per
 * CIDR, or one rule with an interval set). A connect takes tens of microseconds, so one sample of each moves with
 * whatever else the machine does: each is measured in several rounds (a fresh pair each, the
 * order rotated), and a variant's ratio to no rules (and a list's to the same rules without it)
 * is the median of its per-round ratios.
 * Root only.
 *
 *   node bench/connect.mjs [--connections 300] [--rounds 5] [--json]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, cleanEnv, median, namespaceName, run, UPSTREAM_ARGS } from './lib.mjs';
import { excludedCidrs } from './cidrs.mjs';

if (process.getuid?.() !== 0) {
  console.error('bench/connect.mjs needs root (network namespaces, iptables)');
  process.exit(2);
}

const connections = Number(process.argv[process.argv.indexOf('--connections') + 1] || 300) || 300;
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1] || 5) || 5;
const WARMUP = 20;
// 198.51.100.0/24 sorts after the excluded CIDRs, so that the peer's /32 stays last when
// --compact-rules sorts the list, and both variants walk all of it.
const POD = '198.51.100.1';
const PEER = '198.51.100.2';
const PORT = 8080;

const LISTENER = `
import socket, sys, time
n = int(sys.argv[1]); deadline = time.monotonic() + 60
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${PEER}", ${PORT})); s.listen(128); s.settimeout(2)
print("ready", flush=True)
for _ in range(n):
    if time.monotonic() > deadline: break
    try: c, _ = s.accept()
    except socket.timeout: break
    c.close()
`;

const CLIENT = `
import socket, sys, time, statistics
n, warmup = int(sys.argv[1]), int(sys.argv[2]); times = []
for i in range(n + warmup):
    start = time.perf_counter()
    c = socket.create_connection(("${PEER}", ${PORT}), timeout=2)
    elapsed = time.perf_counter() - start
    c.close()
    if i >= warmup: times.append(elapsed * 1e6)
print(statistics.median(times), sorted(times)[int(len(times) * 0.9)])
`;

/** Pod and peer namespaces joined by a veth; deleted whatever happens. */
async function withPair(fn) {
  const pod = namespaceName('pod');
  const peer = namespaceName('peer');
  const veth = `iitb${process.pid % 100000}`;
  try {
    run('ip', ['netns', 'add', pod]);
    run('ip', ['netns', 'add', peer]);
    run('ip', ['link', 'add', `${veth}a`, 'netns', pod, 'type', 'veth', 'peer', 'name', `${veth}b`, 'netns', peer]);
    for (const [ns, dev, address] of [
      [pod, `${veth}a`, POD],
      [peer, `${veth}b`, PEER],
    ]) {
      run('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', dev]);
      run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    return await fn(pod, peer);
  } finally {
    spawnSync('ip', ['netns', 'del', pod]);
    spawnSync('ip', ['netns', 'del', peer]);
  }
}

/**
 * Puts the variant's rules into namespace `pod`: the tool's, with the exclude list (or only the
 * peer's /32), or a ruleset of nft's own.
 */
function applyRules(pod, dir, variant) {
  if (variant.ruleset) {
    run('ip', ['netns', 'exec', pod, 'nft', '-f', '-'], { input: variant.ruleset });
    return;
  }
  const file = join(dir, 'config.json');
  const excluded = variant.list ? [...excludedCidrs(10_000), `${PEER}/32`] : [`${PEER}/32`];
  writeFileSync(file, JSON.stringify({ OUTBOUND_IPRANGES_EXCLUDE: excluded.join(',') }));
  run(
    BIN,
    [
      ...UPSTREAM_ARGS.filter((a, i, all) => a !== '-x' && all[i - 1] !== '-x'),
      '--config',
      file,
      ...variant.args,
      '--network-namespace',
      `/var/run/netns/${pod}`,
    ],
    { env: cleanEnv() },
  );
}

async function measure(variant) {
  const dir = mkdtempSync(join(tmpdir(), 'iit-bench-'));
  try {
    return await withPair(async (pod, peer) => {
      if (variant) applyRules(pod, dir, variant);
      const listener = spawn('ip', ['netns', 'exec', peer, 'python3', '-c', LISTENER, String(connections + WARMUP)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise((resolve, reject) => {
        listener.stdout.once('data', resolve);
        listener.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
      });
      const out = run('ip', ['netns', 'exec', pod, 'python3', '-c', CLIENT, String(connections), String(WARMUP)])
        .stdout.trim()
        .split(/\s+/)
        .map(Number);
      listener.kill();
      return { medianUs: out[0], p90Us: out[1] };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What each variant puts in the pod. `conntrack` is no capture at all, only connection tracking
 * switched on (one nft rule matching `ct state new`): every capture by REDIRECT needs it, so it
 * is the floor under any ruleset here. `capture` and `nftCapture` are the tool's rules with
 * only the peer excluded: what the list adds is measured against them (`base`).
 */
const VARIANTS = {
  none: undefined,
  conntrack: {
    ruleset:
      'table inet iit-bench {\n  chain output {\n    type filter hook output priority 0; policy accept;\n    ct state new counter\n  }\n}\n',
  },
  capture: { args: [], list: false },
  plain: { args: [], list: true, base: 'capture' },
  compact: { args: ['--compact-rules'], list: true, base: 'capture' },
  nftCapture: { args: ['--native-nftables'], list: false },
  nftPlain: { args: ['--native-nftables'], list: true, base: 'nftCapture' },
  nftCompact: { args: ['--native-nftables', '--compact-rules'], list: true, base: 'nftCapture' },
};
const names = Object.keys(VARIANTS);
const samples = Object.fromEntries(names.map((name) => [name, []]));
for (let round = 0; round < rounds; round++)
  for (const name of names.map((_, k) => names[(k + round) % names.length]))
    samples[name].push(await measure(VARIANTS[name]));
const result = { connections, rounds };
/** The median over the rounds of a variant's median against another's in the same round. */
const ratioTo = (name, other) => median(samples[name].map((s, round) => s.medianUs / samples[other][round].medianUs));
for (const name of names) {
  const mine = samples[name];
  const base = VARIANTS[name]?.base;
  result[name] = {
    medianUs: median(mine.map((s) => s.medianUs)),
    p90Us: median(mine.map((s) => s.p90Us)),
    ratio: ratioTo(name, 'none'),
    ...(base ? { ratioToCapture: ratioTo(name, base) } : {}),
  };
}
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(result));
} else {
  for (const name of names) {
    const r = result[name];
    const list = r.ratioToCapture === undefined ? '' : `, ${r.ratioToCapture.toFixed(2)}x without the list`;
    console.log(
      `${name.padEnd(10)} connect median ${r.medianUs.toFixed(0)} µs, p90 ${r.p90Us.toFixed(0)} µs, ${r.ratio.toFixed(2)}x no rules${list} (${rounds} rounds of ${connections} connections)`,
    );
  }
}
