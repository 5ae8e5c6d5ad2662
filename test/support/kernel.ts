/**
 * Real-kernel test support: network namespaces made per test (unique names, always deleted),
 * and the built CLI run as a process. Only root can do this; without root the suites skip
 * with a reason, except under CI=true, where skipping would hide a broken environment.
 */
import { execa } from 'execa';
import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = `${REPO}bin/istio-iptables`;
/**
 * Every namespace a test run makes starts with this, so the run can check it left none
 * behind without mistaking another run's namespaces for its own. The global setup picks the
 * run id; worker processes inherit it.
 */
export const NS_PREFIX = `iit-${process.env.IIT_RUN_ID ?? process.pid}-`;

const isRoot = process.getuid?.() === 0;

/** Why the real-kernel suites cannot run here, or undefined when they can. */
export const kernelSkipReason: string | undefined = isRoot
  ? undefined
  : 'real-kernel tests need root (network namespaces, iptables)';
if (kernelSkipReason && process.env.CI === 'true') {
  throw new Error(`CI=true but ${kernelSkipReason}: these tests must run in CI, not skip`);
}

let counter = 0;

export async function sh(
  file: string,
  args: readonly string[],
  options: { input?: string; env?: Record<string, string>; reject?: boolean } = {},
) {
  const result = await execa(file, args, {
    reject: false,
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  if (options.reject !== false && result.exitCode !== 0) {
    throw new Error(`${file} ${args.join(' ')} failed (${result.exitCode}): ${result.stderr}`);
  }
  return { code: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

export class Namespace {
  constructor(readonly name: string) {}
  get path(): string {
    return `/var/run/netns/${this.name}`;
  }
  exec(file: string, args: readonly string[], options: { input?: string; reject?: boolean } = {}) {
    return sh('ip', ['netns', 'exec', this.name, file, ...args], options);
  }
  /** iptables-save output without comments and counters, so two reads compare as text. */
  async save(binary: string): Promise<string> {
    const { stdout } = await this.exec(`${binary}-save`, []);
    return stdout
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
      .join('\n');
  }
}

/** Makes a namespace with lo up, runs `fn`, and deletes the namespace whatever happens. */
export async function withNamespace<T>(label: string, fn: (ns: Namespace) => Promise<T>): Promise<T> {
  const ns = new Namespace(`${NS_PREFIX}${label}-${process.pid}-${++counter}`);
  await sh('ip', ['netns', 'add', ns.name]);
  try {
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    return await fn(ns);
  } finally {
    await sh('ip', ['netns', 'del', ns.name], { reject: false });
  }
}

/** Runs the built CLI as a process. */
export async function runTool(args: readonly string[], env: Record<string, string> = {}) {
  return sh(BIN, args, { reject: false, env });
}

/** The root namespace's netfilter state (iptables and nftables) and policy rules, for a before/after comparison. */
export async function rootSnapshot(): Promise<string> {
  const parts: string[] = [];
  for (const binary of ['iptables-nft', 'iptables-legacy', 'ip6tables-nft', 'ip6tables-legacy']) {
    const { stdout } = await sh(`${binary}-save`, [], { reject: false });
    parts.push(
      `## ${binary}`,
      ...stdout
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .map((l) => l.replace(/ \[\d+:\d+\]$/, '')),
    );
  }
  for (const args of [['rule'], ['-6', 'rule'], ['-6', 'addr', 'show', 'dev', 'lo']]) {
    parts.push(`## ip ${args.join(' ')}`, (await sh('ip', args, { reject: false })).stdout);
  }
  // Native nftables' tables, and anyone's (iptables-nft's tables are listed above too).
  const nft = await sh('nft', ['list', 'ruleset'], { reject: false });
  parts.push('## nft list ruleset', nft.stdout.replace(/ packets \d+ bytes \d+/g, ''));
  return parts.join('\n');
}

export async function leftoverNamespaces(): Promise<string[]> {
  const { stdout } = await sh('ip', ['netns', 'list'], { reject: false });
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NS_PREFIX));
}

/** A directory any uid can enter, removed when the test process exits. */
export function readableDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The CLI as the image lays it out (bin/ and dist/bundle/), copied where any uid can read it,
 * for tests that run it as another user; made once, on the first call.
 */
let installed: string | undefined;
export function readableBin(): string {
  if (installed) return installed;
  const dir = readableDir('iit-install-');
  cpSync(`${REPO}bin`, join(dir, 'bin'), { recursive: true });
  cpSync(`${REPO}dist/bundle`, join(dir, 'dist/bundle'), { recursive: true });
  chmodSync(join(dir, 'dist'), 0o755);
  installed = join(dir, 'bin/istio-iptables');
  return installed;
}
