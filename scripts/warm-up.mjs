#!/usr/bin/env node
/**
 * V8's code caches for the bundle's bin.js and lazy files, which bin/istio-iptables hands to V8
 * (see there). Warm-up runs write them, each starting from the caches before it, so that they
 * hold every function any of them compiles: a dry run with the injector's arguments, a real run
 * of them, then both again with --native-nftables (which loads cli/nftables.js and
 * exec/nft/exclusive.js). Their exit codes do not matter, only that they ran the bundle.
 * Called by scripts/bundle.mjs; run alone (`node scripts/warm-up.mjs BIN`) by the test that
 * proves the warm-up changes nothing on the machine that builds.
 *
 * The real runs must change nothing here, so they run where the programs they start are stubs
 * that do nothing and print nothing, and nothing else can be found: PATH is that one directory
 * of stubs. Their --network-namespace is our own namespace (/proc/self/ns/net, which passes the
 * namespace check): entered with the native helper, or through the nsenter stub without it.
 * They read empty states, "apply" and read back what they applied, compiling the executor's
 * whole path on the way. The --native-nftables run goes without the native helper: with it,
 * nft's transaction would go through libnftables, past the stubs, into this machine's own
 * namespace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INJECTOR_ARGS } from './injector-args.mjs';

/**
 * Runs the warm-ups with the CLI at `bin` (bin/istio-iptables beside its dist/bundle), writing
 * the caches once the bundle's bin.js cache is `codeCache`. Returns the real runs' exit codes.
 */
export async function warmUpCodeCaches(bin, codeCache) {
  const warmUp = (args, env) =>
    spawnSync(process.execPath, [bin, ...args], {
      env: { ...env, ISTIO_IPTABLES_WRITE_CODE_CACHE: codeCache },
      stdio: 'ignore',
    });
  warmUp(['--dry-run', ...INJECTOR_ARGS], process.env);
  const stubs = await mkdtemp(join(tmpdir(), 'istio-iptables-build-'));
  try {
    // nsenter, and the programs the run looks for on PATH before its first change (flock, the
    // namespace lock's helper, runs directly: as a stub it takes no lock). The restore stub keeps
    // its payload and the save stub prints it back, so that the read-back's parsing and
    // comparison are compiled too: the run "succeeds", having changed nothing.
    // Shell builtins only: PATH holds nothing else.
    const keep = `while IFS= read -r line; do printf '%s\\n' "$line"; done >'${stubs}/state'`;
    const printBack = `[ -f '${stubs}/state' ] && while IFS= read -r line; do printf '%s\\n' "$line"; done <'${stubs}/state'`;
    const stubScripts = {
      nsenter: 'exit 0',
      flock: 'exit 0',
      nft: 'exit 0',
      'iptables-legacy-save': 'exit 0',
      'iptables-legacy-restore': 'exit 0',
      'iptables-nft-restore': keep,
      'iptables-nft-save': `${printBack}\nexit 0`,
    };
    for (const [name, script] of Object.entries(stubScripts))
      await writeFile(join(stubs, name), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    const ownNamespace = ['--enable-inbound-ipv6=false', '--network-namespace', '/proc/self/ns/net'];
    const iptables = warmUp([...INJECTOR_ARGS, ...ownNamespace], { PATH: stubs }).status;
    warmUp(['--dry-run', '--native-nftables', ...INJECTOR_ARGS], process.env);
    const nftables = warmUp([...INJECTOR_ARGS, '--native-nftables', ...ownNamespace], {
      PATH: stubs,
      ISTIO_IPTABLES_NATIVE: '0',
    }).status;
    return { iptables, nftables };
  } finally {
    await rm(stubs, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bin = resolve(process.argv[2] ?? '');
  const codes = await warmUpCodeCaches(bin, resolve(bin, '../../dist/bundle/cli/bin.js.cache'));
  console.log(JSON.stringify(codes));
}
