/**
 * The CLI bundle (scripts/bundle.mjs): a dry run is one self-contained file, every lazily
 * loaded part is where the bundle's imports look for it, and bin/istio-iptables runs it.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadNativeHelper } from '../src/exec/native.js';
import { onPath } from '../src/exec/preflight.js';
import { INJECTOR_FLAGS, REPO_ROOT } from './support/cli.js';

const run = promisify(execFile);
const BUNDLE = join(REPO_ROOT, 'dist/bundle');
const BIN = join(REPO_ROOT, 'bin/istio-iptables');
const DRY_RUN = ['--dry-run', ...INJECTOR_FLAGS, '--enable-inbound-ipv6=false'];

describe('the CLI bundle', () => {
  it('is what bin/istio-iptables runs, as CommonJS', () => {
    expect(readFileSync(BIN, 'utf8')).toContain("join(__dirname, '../dist/bundle/cli/bin.js')");
    expect(JSON.parse(readFileSync(join(REPO_ROOT, 'bin/package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
    expect(JSON.parse(readFileSync(join(BUNDLE, 'package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
  });

  it('runs a dry run from bin.js alone: no other file, no node_modules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iit-bundle-'));
    try {
      mkdirSync(join(dir, 'cli'));
      copyFileSync(join(BUNDLE, 'cli/bin.js'), join(dir, 'cli/bin.js'));
      const alone = await run(process.execPath, [join(dir, 'cli/bin.js'), ...DRY_RUN], { cwd: dir });
      const repo = await run(BIN, DRY_RUN);
      expect(alone.stdout).toBe(repo.stdout);
      expect(alone.stdout).toContain('-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has every file its lazy requires name, and the probe where exec/validation.ts looks', () => {
    for (const file of [
      'cli/bin.js',
      'cli/real-deps.js',
      'cli/command-line.js',
      'cli/explain.js',
      'cli/commands/pod.js',
    ]) {
      const text = readFileSync(join(BUNDLE, file), 'utf8');
      const relative = [...text.matchAll(/require\("(\.[^"]+)"\)/g)].map(([, path]) => path ?? '');
      if (file === 'cli/bin.js') expect(relative.length).toBeGreaterThan(0);
      for (const path of relative)
        expect(existsSync(resolve(dirname(join(BUNDLE, file)), path)), `${file} requires ${path}`).toBe(true);
    }
    // real-deps.ts resolves ../cli/probe.js from its own module, cli/real-deps.js (a dry run never loads it).
    expect(readFileSync(join(BUNDLE, 'cli/bin.js'), 'utf8')).not.toContain('"../cli/probe.js"');
    expect(readFileSync(join(BUNDLE, 'cli/real-deps.js'), 'utf8')).toContain('"../cli/probe.js"');
    expect(existsSync(resolve(BUNDLE, 'cli', '../cli/probe.js'))).toBe(true);
  });

  it('carries the native helper where the CLI and the CNI plugin look for it (../native from their directories)', () => {
    // Built wherever a C compiler is (scripts/build-native.mjs), as on every machine CI runs on.
    if (!onPath(process.env.CC || 'cc', process.env.PATH ?? '')) return;
    for (const dir of ['cli', 'cni']) {
      expect(readFileSync(join(BUNDLE, dir, dir === 'cli' ? 'real-deps.js' : 'main.js'), 'utf8')).toContain(
        '"../native/netns.node"',
      );
      expect(loadNativeHelper(resolve(BUNDLE, dir, '../native/netns.node'))).toBeDefined();
    }
  });

  it('loads its lazy parts: --help (yargs) and --config (the generated validator)', async () => {
    const help = await run(BIN, ['--help']);
    expect(help.stdout).toContain('--compact-rules');
    const dir = mkdtempSync(join(tmpdir(), 'iit-bundle-'));
    try {
      writeFileSync(
        join(dir, 'good.json'),
        JSON.stringify({
          PROXY_PORT: '15001',
          INBOUND_PORTS_INCLUDE: '8080',
          ENABLE_INBOUND_IPV6: false,
          PROXY_UID: '1337',
        }),
      );
      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ PROXY_PORT: 15001, NO_SUCH_KEY: true }));
      const good = await run(BIN, ['--config', join(dir, 'good.json'), '--dry-run']);
      expect(good.stdout).toContain('-A ISTIO_INBOUND -p tcp --dport 8080 -j ISTIO_IN_REDIRECT\n');
      const bad = await run(BIN, ['--config', join(dir, 'bad.json'), '--dry-run']).catch(
        (error: { stderr: string; code: number }) => error,
      );
      expect(bad).toMatchObject({ code: 2 });
      expect((bad as { stderr: string }).stderr).toContain('config key PROXY_PORT="15001": must be string');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads one node module beyond what node -e 0 loads (vm, for the code cache), logging included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iit-modules-'));
    try {
      const preload = join(dir, 'list.cjs');
      writeFileSync(
        preload,
        "process.on('exit', () => require('node:fs').writeSync(2, '\\nMODULES ' + JSON.stringify(process.moduleLoadList)));",
      );
      const loaded = async (file: string, args: readonly string[]) => {
        const { stderr } = await run(file, [...args], {
          env: { PATH: process.env.PATH, NODE_OPTIONS: `-r ${preload}` },
        });
        return JSON.parse(stderr.slice(stderr.lastIndexOf('\nMODULES ') + 9)) as string[];
      };
      const floor = new Set(await loaded(process.execPath, ['-e', '0']));
      // The default logging is on (the configuration dump at info): its clock must not load perf_hooks.
      const extra = (await loaded(BIN, DRY_RUN)).filter((m) => !floor.has(m) && m.startsWith('NativeModule '));
      expect(extra).toEqual(['NativeModule vm']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads explain from its own file only when asked: a plain run carries none of it', async () => {
    const bin = readFileSync(join(BUNDLE, 'cli/bin.js'), 'utf8');
    expect(bin).toContain('require("../cli/explain.js")');
    expect(bin).not.toContain('SO_ORIGINAL_DST');
    expect(readFileSync(join(BUNDLE, 'cli/explain.js'), 'utf8')).toContain('SO_ORIGINAL_DST');
    const { stdout } = await run(BIN, [
      'explain',
      ...DRY_RUN.slice(1),
      '--host-ip',
      '192.0.2.10',
      '--dst',
      '198.51.100.5:80',
      '--json',
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ outcome: 'redirect', toPort: 15001 });
  });

  it('runs `pod` from its own lazy file, which alone carries the YAML library', async () => {
    const pod = JSON.stringify({ kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'app' }] } });
    const child = spawn(BIN, ['pod', '-', '--print-args', '--path', 'cni'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(`# YAML comments are fine\n${pod}\n`);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
    expect(JSON.parse(stdout)).toContain('--cni-mode');
    // A ConfigError from the lazy file (its own copy of the error classes) is reported as one.
    const bad = JSON.stringify({
      kind: 'Pod',
      metadata: { annotations: { 'sidecar.istio.io/interceptionMode': 'x' } },
    });
    const refused = spawn(BIN, ['pod', '-', '--print-args'], { stdio: ['pipe', 'pipe', 'pipe'] });
    refused.stdin.end(bad);
    let stderr = '';
    refused.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await new Promise((resolve) => refused.on('close', resolve))).toBe(2);
    expect(stderr).toContain(
      '\terror\tinvalid configuration (1 problem):\n  annotation sidecar.istio.io/interceptionMode="x"',
    );
    expect(readFileSync(join(BUNDLE, 'cli/commands/pod.js'), 'utf8')).toContain('parseAllDocuments');
    expect(readFileSync(join(BUNDLE, 'cli/bin.js'), 'utf8')).not.toContain('parseAllDocuments');
  });

  it('has a code cache for bin.js that V8 accepts', async () => {
    const check = [
      "const { readFileSync } = require('node:fs');",
      "const { Script } = require('node:vm');",
      "const { wrap } = require('node:module');",
      `const file = ${JSON.stringify(join(BUNDLE, 'cli/bin.js'))};`,
      "const script = new Script(wrap(readFileSync(file, 'utf8')), { filename: file, cachedData: readFileSync(file + '.cache') });",
      'process.stdout.write(String(script.cachedDataRejected));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['-e', check]);
    expect(stdout).toBe('false');
  });

  it('runs the same with a missing or corrupt code cache', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iit-bundle-'));
    try {
      for (const part of ['bin', 'dist/bundle']) cpSync(join(REPO_ROOT, part), join(dir, part), { recursive: true });
      const copy = join(dir, 'bin/istio-iptables');
      const expected = (await run(BIN, DRY_RUN)).stdout;
      writeFileSync(join(dir, 'dist/bundle/cli/bin.js.cache'), 'not a code cache');
      expect((await run(copy, DRY_RUN)).stdout).toBe(expected);
      rmSync(join(dir, 'dist/bundle/cli/bin.js.cache'));
      expect((await run(copy, DRY_RUN)).stdout).toBe(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops writing quietly when the reader goes away (`--dry-run | head -1`)', async () => {
    // 6 000 excluded CIDRs: a payload far larger than a pipe holds.
    const cidrs = Array.from({ length: 6000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`).join(',');
    const child = spawn(BIN, [...DRY_RUN, '-x', cidrs], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toContain('internal error');
    expect(stderr).toMatch(/nat ISTIO_OUTPUT has 6,0\d\d rules/);
    expect(code).toBe(0);
  });
});
