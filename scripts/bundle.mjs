#!/usr/bin/env node
/**
 * Bundles the CLI into dist/bundle/ with esbuild (run after `tsc`, by `npm run build`), so a
 * run loads a few files instead of hundreds of modules, and needs no node_modules.
 *
 * The bundle is CommonJS (dist/bundle/package.json says so, as bin/package.json does for
 * bin/istio-iptables): node runs a CommonJS entry without starting its ES module loader, which
 * an ES module entry pays a third of what a dry run adds to `node -e 0` for (bench/RESULTS.md).
 *
 * The large parts a usual run does not need stay files of their own, loaded with `import()`
 * (which the bundle turns into `require`) only when a run needs them; the layout follows src/:
 *
 *   dist/bundle/cli/bin.js                        the CLI: flags, planning, dry runs (bin/istio-iptables runs it)
 *   dist/bundle/cli/bin.js.cache                  V8's code cache for bin.js (see bin/istio-iptables), and so for each file
 *   dist/bundle/cli/real-deps.js                  the executor: real runs, and host facts read in another namespace
 *   dist/bundle/cli/command-line.js               yargs: --help, and argv the fast path leaves to it
 *   dist/bundle/cli/commands/doctor.js            `doctor` and its probes
 *   dist/bundle/cli/explain.js                    `explain` (src/cli/commands/explain.ts), loaded only for it
 *   dist/bundle/cli/commands/pod.js               `istio-iptables pod`: the pod layer and the YAML library
 *   dist/bundle/config/generated/validate-config.js   the --config validator
 *   dist/bundle/cli/probe.js                      the --run-validation probe, spawned as its own process
 *   dist/bundle/cli/nftables.js                   --native-nftables: its planner and renderer
 *   dist/bundle/exec/nft/exclusive.js             --native-nftables: applying and checking, under the lock
 *   dist/bundle/cni/main.js                       the chained CNI plugin (bin/istio-iptables-cni runs it)
 *   dist/bundle/cni/nftables.js                   the plugin's native_nftables: the nftables planner and renderer
 *   dist/bundle/native/netns.node                 the native helper, where built (scripts/build-native.mjs)
 *
 * The executor is a lazy file (cli/real-deps.js, with its own code cache): in bin.js its code
 * and cache made every dry run read and deserialise a third more (~0.5 ms), and a real run
 * pays about as much to load it as a file of its own.
 *
 * Each file is a complete bundle, without shared chunks: esbuild's code splitting puts the
 * modules bin.js shares with a lazy file into chunks of their own, more files for a dry run to
 * load. The price is that a lazy file carries its own copy of the modules it shares with
 * bin.js; nothing depends on their identity across files except the error classes, which
 * `isIptablesError` recognises by a brand rather than by `instanceof`.
 *
 * cli/real-deps.ts finds the probe at `../cli/probe.js` from its own module URL and hands the
 * path to exec/validation.ts: that holds for the tsc output (dist/cli) and here
 * (dist/bundle/cli), where `import.meta.url` is defined as the bundle file's URL.
 */
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { warmUpCodeCaches } from './warm-up.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = resolve(root, 'src');
const outdir = resolve(root, 'dist/bundle');

/** Modules the CLI imports lazily: each becomes its own file, never part of its importer. */
const LAZY = [
  'cli/real-deps.ts',
  'cli/command-line.ts',
  'cli/commands/doctor.ts',
  'cli/commands/pod.ts',
  'cli/commands/explain.ts',
  'config/generated/validate-config.js',
  'cli/nftables.ts',
  'exec/nft/exclusive.ts',
  'cni/nftables.ts',
];
const ENTRIES = ['cli/bin.ts', 'cli/probe.ts', 'cni/main.ts', ...LAZY];
/**
 * explain is bundled into cli/ itself (cli/commands/explain.ts → cli/explain.js): it imports
 * lazy files (yargs, the --config validator), and every importer of one sits one directory below
 * dist/bundle.
 */
const FLAT = { 'cli/commands/explain.ts': 'cli/explain' };

/** Where esbuild writes a source file's bundle (outbase src/, `.ts` → `.js`). */
const outputOf = (file) => {
  const flat = FLAT[relative(src, file)];
  return flat ? resolve(outdir, `${flat}.js`) : resolve(outdir, relative(src, file)).replace(/\.ts$/, '.js');
};

/**
 * `import('./command-line.js')` stays a run-time import, its path rewritten to where the importer's
 * own bundle will find the lazy file. Only dynamic imports: a static import of a lazy module
 * would load it eagerly, which is a mistake this reports.
 */
const lazyImports = {
  name: 'lazy-imports',
  setup(plugin) {
    const lazy = new Set(LAZY.map((file) => resolve(src, file)));
    plugin.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path).replace(/\.js$/, '');
      const file = [`${target}.ts`, `${target}.js`].find((candidate) => lazy.has(candidate));
      if (!file || args.kind === 'entry-point') return undefined;
      if (args.kind !== 'dynamic-import')
        return { errors: [{ text: `${args.path} is loaded lazily: import it with import(), not statically` }] };
      // Every bundle that imports a lazy file sits one directory below dist/bundle (cli/bin.js,
      // cli/command-line.js, cli/explain.js, cni/main.js), so one path from there serves them all.
      return { path: `../${relative(outdir, outputOf(file))}`, external: true };
    });
  },
};

// Built beside and swapped in, so that a CLI started meanwhile never finds half a bundle.
const staging = `${outdir}.${process.pid}`;
await rm(staging, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ENTRIES.map((entry) => (FLAT[entry] ? { in: `src/${entry}`, out: FLAT[entry] } : `src/${entry}`)),
  outbase: 'src',
  outdir: staging,
  entryNames: '[dir]/[name]',
  bundle: true,
  format: 'cjs',
  // import() of a lazy file becomes require(): import() would start node's ES module loader.
  supported: { 'dynamic-import': false },
  platform: 'node',
  target: 'node20',
  // Smaller files parse faster; identifiers are kept, so that stack traces stay readable.
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
  // CommonJS has no import.meta: each file's own URL stands in for it, worked out when first
  // asked for (a dry run never asks, and pathToFileURL costs a start measurable time).
  // import.meta.dirname is CommonJS's __dirname, free.
  define: { 'import.meta.url': '__bundle_meta.url', 'import.meta.dirname': '__dirname' },
  banner: { js: 'var __bundle_meta = { get url() { return require("node:url").pathToFileURL(__filename).href; } };' },
  plugins: [lazyImports],
});
await writeFile(resolve(staging, 'package.json'), '{ "type": "commonjs" }\n');
// The native helper (scripts/build-native.mjs), where it was built: the CLI finds it at
// ../native/netns.node from its own directory, here as in the tsc output.
const nativeHelper = resolve(root, 'dist/native/netns.node');
if (existsSync(nativeHelper)) {
  await mkdir(resolve(staging, 'native'), { recursive: true });
  await copyFile(nativeHelper, resolve(staging, 'native/netns.node'));
}
await rename(outdir, `${staging}.old`).catch((error) => {
  if (error.code !== 'ENOENT') throw error;
});
await rename(staging, outdir);
await rm(`${staging}.old`, { recursive: true, force: true });

// V8's code caches for bin.js and the lazy files (scripts/warm-up.mjs).
const codeCache = resolve(outdir, 'cli/bin.js.cache');
await warmUpCodeCaches(resolve(root, 'bin/istio-iptables'), codeCache);
if (!existsSync(codeCache))
  console.warn(`bundle: no code cache written (${relative(root, codeCache)}): the CLI works, but starts slower`);

const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
const describe = ([file, output]) =>
  `${relative(staging, resolve(root, file))} ${(output.bytes / 1024).toFixed(0)} KiB`;
const caches = ['cli/bin.js', 'cli/real-deps.js', 'cli/nftables.js', 'exec/nft/exclusive.js'].filter((file) =>
  existsSync(resolve(outdir, `${file}.cache`)),
);
console.log(`dist/bundle: ${outputs.map(describe).join(', ')}; code caches: ${caches.join(', ') || 'none'}`);
