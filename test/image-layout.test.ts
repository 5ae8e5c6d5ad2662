/**
 * Dockerfile.init without Docker: scripts/image-layout.mjs replays the Dockerfile's runtime stage
 * into a temporary directory (its COPY and npm steps, read from the Dockerfile), and this checks
 * what that directory holds and that its entrypoint behaves like the repository's own bin, down
 * to applying rules in a fresh network namespace. A Dockerfile change that breaks the image's
 * layout breaks these tests.
 */
import { execa } from 'execa';
import { existsSync, type Dirent } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { kernelSkipReason, REPO, runTool, sh, withNamespace } from './support/kernel.js';
import { INJECTOR_FLAGS } from './support/cli.js';

/** The flags istio's sidecar injector passes to istio-init by default. */
/** The injector's `args` as written: for proxyv2, whose entrypoint is pilot-agent, led by its sub-command. */
const INJECTED_ARGS = ['istio-iptables', ...INJECTOR_FLAGS];
/** Never allowed in the image, whatever package.json says. */
const BUILD_TOOLS = ['typescript', 'vitest', 'esbuild', 'vite', 'rolldown'];

/** The script's JSON manifest (see scripts/image-layout.mjs). */
interface Manifest {
  dir: string;
  workdir: string;
  user: string;
  entrypoint: string[];
  hostEntrypoint: string[];
  env: Record<string, string>;
  copied: { from: string; paths: string[]; to: string }[];
  ran: string[];
  leftToHost: string[];
}

let dir = '';
let manifest: Manifest;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iit-image-'));
  const built = await sh(process.execPath, [`${REPO}scripts/image-layout.mjs`, dir], { reject: false });
  if (built.code !== 0) throw new Error(`scripts/image-layout.mjs failed (${built.code}):\n${built.stderr}`);
  manifest = JSON.parse(built.stdout) as Manifest;
}, 180_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Image path → path in the layout. */
const inLayout = (imagePath: string) => join(dir, posix.relative(manifest.workdir, imagePath));

/** Runs the image's entrypoint from the layout, in its WORKDIR, with only PATH and the image's ENV. */
async function entrypoint(args: readonly string[]) {
  const [program = '', ...rest] = manifest.hostEntrypoint;
  const result = await execa(program, [...rest, ...args], {
    cwd: inLayout(manifest.workdir),
    env: { PATH: process.env.PATH ?? '', ...manifest.env },
    extendEnv: false,
    reject: false,
  });
  return { code: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Dockerfile.init's last stage, one instruction a line, read independently of the script. */
async function runtimeStage(): Promise<string[]> {
  const lines = (await readFile(`${REPO}Dockerfile.init`, 'utf8'))
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim().replace(/\s+/g, ' '))
    .filter((line) => line !== '');
  const lastFrom = lines.map((line) => /^FROM /i.test(line)).lastIndexOf(true);
  return lines.slice(lastFrom);
}

/** An instruction's words after its own leading `--flag`s (COPY --from, RUN --mount). */
const withoutFlags = (words: string[]) =>
  words.slice(
    Math.max(
      0,
      words.findIndex((word) => !word.startsWith('--')),
    ),
  );

/** Every package directory under node_modules, nested ones included, as lockfile keys. */
async function installedPackages(under = 'node_modules'): Promise<string[]> {
  const entries = await readdir(join(dir, under), { withFileTypes: true }).catch((): Dirent[] => []);
  const found: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const names = entry.name.startsWith('@')
      ? (await readdir(join(dir, under, entry.name))).map((n) => `${entry.name}/${n}`)
      : [entry.name];
    for (const name of names)
      found.push(`${under}/${name}`, ...(await installedPackages(`${under}/${name}/node_modules`)));
  }
  return found;
}

describe('the init-container image, built as a directory', () => {
  test('the layout replays every COPY and npm step of the runtime stage', async () => {
    const stage = await runtimeStage();
    const copies = stage
      .filter((line) => /^COPY /i.test(line))
      .map((line) => withoutFlags(line.split(' ').slice(1)).slice(0, -1));
    expect(manifest.copied.map((copy) => copy.paths)).toEqual(copies);
    const npmSteps = stage
      .filter((line) => /^RUN /i.test(line))
      .map((line) => withoutFlags(line.split(' ').slice(1)).join(' '))
      .filter((cmd) => cmd.startsWith('npm '));
    expect(manifest.ran).toEqual(npmSteps);
    for (const { paths, to } of manifest.copied) {
      for (const path of paths) {
        const target = posix.basename(to) === posix.basename(path) ? to : posix.join(to, posix.basename(path));
        expect(existsSync(inLayout(target)), `${path} copied to ${target}`).toBe(true);
      }
    }
  });

  test('runs as root, installs iptables and iproute2 lean, entrypoint in exec form', () => {
    expect(manifest.user).toBe('0');
    expect(manifest.entrypoint.length).toBeGreaterThan(0);
    const apt = manifest.leftToHost.join('\n');
    expect(apt).toMatch(/apt-get install -y --no-install-recommends .*\biptables\b/);
    expect(apt).toMatch(/apt-get install .*\biproute2\b/);
    expect(apt).toMatch(/apt-get install .*\bnftables\b/);
    expect(apt).toContain('rm -rf /var/lib/apt/lists/*');
  });

  test('no devDependencies in the layout', async () => {
    const repoPackage = JSON.parse(await readFile(`${REPO}package.json`, 'utf8')) as {
      devDependencies?: Record<string, string>;
    };
    const forbidden = new Set([...BUILD_TOOLS, ...Object.keys(repoPackage.devDependencies ?? {})]);
    const installed = await installedPackages();
    const names = installed.map((path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(names.filter((name) => forbidden.has(name))).toEqual([]);
    if (installed.length === 0) return;
    // Every installed package is one the lockfile marks as needed in production.
    const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const notForProduction = (path: string) => {
      const entry = lock.packages[path];
      return entry === undefined || entry.dev === true;
    };
    expect(installed.filter(notForProduction)).toEqual([]);
  });

  test("--dry-run with the injector's default args prints what the repository's bin prints", async () => {
    const repo = await runTool([...INJECTOR_FLAGS, '--dry-run']);
    expect(repo.code, repo.stderr).toBe(0);
    expect(repo.stdout).toContain('-A OUTPUT -j ISTIO_OUTPUT');
    expect(repo.stdout).toContain('-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001');
    // As the injector writes them (sub-command first), and as bare flags.
    for (const args of [INJECTED_ARGS, INJECTOR_FLAGS]) {
      const image = await entrypoint([...args, '--dry-run']);
      expect(image.code, image.stderr).toBe(0);
      expect(image.stdout).toBe(repo.stdout);
    }
  });

  test("the injector's pilot-agent logging flag is accepted and changes nothing", async () => {
    const plain = await entrypoint([...INJECTED_ARGS, '--dry-run']);
    const logged = await entrypoint([...INJECTED_ARGS, '--log_output_level=default:info', '--dry-run']);
    expect(logged.code, logged.stderr).toBe(0);
    expect(logged.stdout).toBe(plain.stdout);
  });

  test('--help works', async () => {
    const [image, repo] = [await entrypoint(['--help']), await runTool(['--help'])];
    expect(image.code, image.stderr).toBe(0);
    expect(image.stdout).toContain('--envoy-port');
    expect(image.stdout).toBe(repo.stdout);
  });

  describe.skipIf(kernelSkipReason)('in a network namespace', () => {
    test("the injector's default args apply the rules", async () => {
      await withNamespace('image', async (ns) => {
        const result = await entrypoint([
          ...INJECTED_ARGS,
          '--enable-inbound-ipv6=false',
          '--network-namespace',
          ns.path,
        ]);
        expect(result.code, result.stderr).toBe(0);
        const { stdout } = await ns.exec('iptables-nft-save', []);
        expect(stdout).toContain('-A OUTPUT -j ISTIO_OUTPUT');
        expect(stdout).toContain(':ISTIO_OUTPUT');
      });
    });
  });
});
