/**
 * The shape of src/, checked by reading its files: each layer imports only the layers below it
 * (README.md, "Architecture"), restore text is written only in src/render/, and a file longer
 * than ~200 lines says at its top why.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/cli.js';

const SRC = join(REPO_ROOT, 'src');

/**
 * Each top-level folder (or file) of src/ and its floor: a file may import its own folder and
 * any folder on a lower floor, nothing else. Folders on one floor do not import each other.
 * `pod` turns a Kubernetes object into settings (above config, below the planner); `explain`
 * walks typed rules, planned or parsed, and needs no processes (above state, below exec);
 * `index.ts` is the library's entry, which never includes the CLI.
 */
const FLOORS: Readonly<Record<string, number>> = {
  model: 0,
  'errors.ts': 1,
  'errors-brand.test.ts': 1,
  config: 2,
  pod: 3,
  plan: 4,
  render: 5,
  state: 6,
  explain: 7,
  exec: 8,
  'index.ts': 9,
  cli: 10,
  cni: 10,
};

/** Every .ts/.js file under `dir`, relative to src/. */
function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(entry.name) ? [relative(SRC, path)] : [];
  });
}

/** The relative module paths a file imports: static, type-only, re-exports and `import()`. */
function importsOf(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'";]*?\sfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1] ?? '');
  for (const match of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) found.push(match[1] ?? '');
  return found.filter((path) => path.startsWith('.'));
}

/** The top-level part of src/ a path (relative to src/) is in. */
const layerOf = (path: string) => path.split('/')[0] ?? path;

/** Each import that goes up or sideways, as `from → to`. */
function upwardImports(files: readonly { path: string; text: string }[]): string[] {
  return files.flatMap(({ path, text }) => {
    const from = layerOf(path);
    return importsOf(text).flatMap((spec) => {
      const target = normalize(join(dirname(path), spec)).replace(/\.js$/, '.ts');
      const to = layerOf(target);
      if (to === from) return [];
      const [a, b] = [FLOORS[from], FLOORS[to]];
      return a !== undefined && b !== undefined && b < a ? [] : [`${path} → ${spec}`];
    });
  });
}

const files = sourceFiles()
  .filter((path) => !path.includes('/generated/'))
  .map((path) => ({ path, text: readFileSync(join(SRC, path), 'utf8') }));

describe('the import graph of src/', () => {
  it('knows the floor of every top-level folder', () => {
    const unknown = [...new Set(files.map(({ path }) => layerOf(path)))].filter((layer) => !(layer in FLOORS));
    expect(unknown, 'add the new folder to FLOORS here and to the README\'s "Architecture"').toEqual([]);
  });

  it('goes only downward: no layer imports one above it or beside it', () => {
    const production = files.filter(({ path }) => !path.endsWith('.test.ts'));
    expect(upwardImports(production)).toEqual([]);
  });

  it('keeps src/cli out of every lower layer, and src/exec out of src/explain', () => {
    const offenders = files.flatMap(({ path, text }) =>
      importsOf(text)
        .map((spec) => normalize(join(dirname(path), spec)))
        .filter(
          (target) =>
            (layerOf(path) !== 'cli' && layerOf(target) === 'cli') ||
            (layerOf(path) === 'explain' && layerOf(target) === 'exec'),
        )
        .map((target) => `${path} → ${target}`),
    );
    expect(offenders).toEqual([]);
  });

  it('is what this test reads: an upward import is found', () => {
    const planted = [
      { path: 'state/x.ts', text: "import { main } from '../cli/main.js';" },
      { path: 'model/y.ts', text: "import type { Ruleset } from '../plan/plan-capture.js';" },
      { path: 'render/z.ts', text: "const lazy = await import('../exec/apply.js');" },
      { path: 'explain/w.ts', text: "export { applyCapture } from '../exec/apply.js';" },
      { path: 'exec/ok.ts', text: "import { renderRestore } from '../render/restore.js';" },
    ];
    expect(upwardImports(planted)).toEqual([
      'state/x.ts → ../cli/main.js',
      'model/y.ts → ../plan/plan-capture.js',
      'render/z.ts → ../exec/apply.js',
      'explain/w.ts → ../exec/apply.js',
    ]);
  });
});

describe('restore text', () => {
  it('is written only in src/render/ (and read only in state/save-parser.ts): no other file spells COMMIT or a table header', () => {
    const writers = files
      .filter(
        ({ path }) => !path.startsWith('render/') && path !== 'state/save-parser.ts' && !path.endsWith('.test.ts'),
      )
      .filter(({ text }) => /['"`]COMMIT\b|`\*\$\{|['"]\*(?:nat|mangle|raw|filter)\b/.test(text))
      .map(({ path }) => path);
    expect(writers).toEqual([]);
  });
});

describe('file length', () => {
  it('is ~200 lines or fewer, or the file says at its top why it is longer', () => {
    const long = files
      .filter(({ text }) => text.split('\n').length > 210)
      .filter(({ text }) => !/Longer than ~?200 lines/.test(text.split('\n').slice(0, 20).join('\n')))
      .map(({ path, text }) => `${path} (${text.split('\n').length} lines)`);
    expect(long).toEqual([]);
  });
});
