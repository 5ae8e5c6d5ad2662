#!/usr/bin/env node
/**
 * Bundles the CLI into dist/bundle/ with esbuild (run after `tsc`, by `npm run build`), so a
 * run loads a few files instead of hundreds of modules, and needs no node_modules.
 *
 * Every module the CLI loads with `import()` stays a file of its own, loaded only when a run
 * needs it; the layout follows src/:
 *
 *   dist/bundle/cli/bin.js                        the CLI: all a dry run loads (bin/istio-iptables imports it)
 *   dist/bundle/cli/real-deps.js                  a real run: the executor, child processes
 *   dist/bundle/cli/command-line.js               yargs: --help, and argv the fast path leaves to it
 *   dist/bundle/config/generated/validate-config.js   the --config validator
 *   dist/bundle/cli/probe.js                      the --run-validation probe, spawned as its own process
 *
 * Each file is a complete bundle, without shared chunks: esbuild's code splitting puts the
 * modules bin.js shares with a lazy file into chunks of their own, three more files for a dry
 * run to load, which cost it about 3 ms (measured: 43 → 40 ms against 29 ms for `node -e 0`).
 * The price is that a lazy file carries its own copy of the modules it shares with bin.js;
 * nothing depends on their identity across files except the error classes, which
 * `isIptablesError` recognises by a brand rather than by `instanceof`.
 *
 * exec/validation.ts finds the probe at `../cli/probe.js` from its own module URL: that holds
 * for the tsc output (dist/exec → dist/cli) and here (dist/bundle/cli → dist/bundle/cli).
 */
import { build } from 'esbuild';
import { rename, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = resolve(root, 'src');
const outdir = resolve(root, 'dist/bundle');

/** Modules the CLI imports lazily: each becomes its own file, never part of its importer. */
const LAZY = ['cli/real-deps.ts', 'cli/command-line.ts', 'config/generated/validate-config.js'];
const ENTRIES = ['cli/bin.ts', 'cli/probe.ts', ...LAZY];

/** Where esbuild writes a source file's bundle (outbase src/, `.ts` → `.js`). */
const outputOf = (file) => resolve(outdir, relative(src, file)).replace(/\.ts$/, '.js');

/**
 * `import('./real-deps.js')` stays a run-time import, its path rewritten to where the importer's
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
      if (args.kind !== 'dynamic-import') return { errors: [{ text: `${args.path} is loaded lazily: import it with import(), not statically` }] };
      // Every bundle that imports a lazy file is in cli/ (bin.js, real-deps.js, command-line.js).
      let path = relative(resolve(outdir, 'cli'), outputOf(file));
      if (!path.startsWith('.')) path = `./${path}`;
      return { path, external: true };
    });
  },
};

/**
 * `import { readFile } from 'node:fs/promises'` makes node build an ES module facade of the
 * built-in, which costs a run about 1 ms each. Each built-in is read with
 * process.getBuiltinModule instead (node >= 20.16), which returns the module as it is.
 */
const builtinsWithoutFacades = {
  name: 'builtins-without-facades',
  setup(plugin) {
    const names = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
    plugin.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => (names.has(args.path) ? { path: args.path.replace(/^node:/, ''), namespace: 'builtin' } : undefined));
    plugin.onLoad({ filter: /.*/, namespace: 'builtin' }, async (args) => {
      const exported = Object.keys(await import(`node:${args.path}`)).filter((key) => key !== 'default' && /^[A-Za-z_$][\w$]*$/.test(key));
      const id = JSON.stringify(args.path);
      return {
        // One export per name, each marked pure, so that the bundle keeps only the names used:
        // reading them all would run the built-ins' lazy getters (fs.promises, fs.Dir, …).
        contents: [
          `const m = process.getBuiltinModule(${id});`,
          'const get = (name) => m[name];',
          'export default m;',
          ...exported.map((name) => `export const ${name} = /* @__PURE__ */ get(${JSON.stringify(name)});`),
        ].join('\n'),
        loader: 'js',
      };
    });
  },
};

// Built beside and swapped in, so that a CLI started meanwhile never finds half a bundle.
const staging = `${outdir}.${process.pid}`;
await rm(staging, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ENTRIES.map((entry) => `src/${entry}`),
  outbase: 'src',
  outdir: staging,
  entryNames: '[dir]/[name]',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Smaller files parse faster; identifiers are kept, so that stack traces stay readable.
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
  // The CommonJS dependencies (of execa) `require` Node built-ins: give them a `require`, one
  // that costs nothing until called (createRequire at load costs each file ~1 ms).
  banner: { js: 'const require = (id) => process.getBuiltinModule(id) ?? process.getBuiltinModule("module").createRequire(import.meta.url)(id);' },
  plugins: [lazyImports, builtinsWithoutFacades],
});
await rename(outdir, `${staging}.old`).catch((error) => {
  if (error.code !== 'ENOENT') throw error;
});
await rename(staging, outdir);
await rm(`${staging}.old`, { recursive: true, force: true });

const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
const describe = ([file, output]) => `${relative(staging, resolve(root, file))} ${(output.bytes / 1024).toFixed(0)} KiB`;
console.log(`dist/bundle: ${outputs.map(describe).join(', ')}`);
