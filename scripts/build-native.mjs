#!/usr/bin/env node
/**
 * Builds src/native/netns.c into dist/native/netns.node (run by `npm run build`, before the
 * bundle, which copies it beside itself): the run lock's flock(2) and entering
 * --network-namespace with setns(2), without a process each.
 *
 * A Node-API addon, compiled with the C compiler against the headers of the node running this
 * script (<prefix>/include/node); Node-API is stable across node versions, so one build serves
 * node 20 and 24 alike. Where there is no compiler or no headers, nothing is built and runs use
 * util-linux's `flock` and `nsenter` instead: the same behaviour, a process more per step.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = resolve(root, 'src/native/netns.c');
const output = resolve(root, 'dist/native/netns.node');
const headers = resolve(dirname(process.execPath), '../include/node');
const compiler = process.env.CC || 'cc';

rmSync(output, { force: true });
if (!existsSync(resolve(headers, 'node_api.h'))) {
  console.log(`native helper not built: no Node-API headers at ${headers}; runs start flock and nsenter instead`);
  process.exit(0);
}
mkdirSync(dirname(output), { recursive: true });
const args = ['-O2', '-Wall', '-Wextra', '-shared', '-fPIC', `-I${headers}`, '-o', output, source];
const result = spawnSync(compiler, args, { encoding: 'utf8' });
if (result.error?.code === 'ENOENT') {
  console.log(`native helper not built: no C compiler (${compiler}); runs start flock and nsenter instead`);
  process.exit(0);
}
if (result.status !== 0) {
  // The CLI works without the helper, so a compiler that fails here does not fail the build; the
  // tests do (src/exec/lock.test.ts expects the helper wherever a compiler is).
  rmSync(output, { force: true });
  console.error(`native helper not built: ${compiler} failed; runs start flock and nsenter instead\n${result.stderr}`);
}
// The compiler's diagnostics, if any: none is expected.
else if (result.stderr.trim() !== '') console.error(result.stderr);
