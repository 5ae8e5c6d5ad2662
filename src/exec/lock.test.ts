/**
 * The namespace lock on ordinary files: flock(2) works the same on them as on nsfs files. Each
 * test runs with both ways of taking it: util-linux flock, and the native helper as
 * `npm run build` builds it (where a C compiler is installed: the build skips it otherwise).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockTimeoutError } from '../errors.js';
import { acquireLock, type LockMeans, lockedRunner, withNamespaceLock } from './lock.js';
import { loadNativeHelper } from './native.js';
import { onPath } from './preflight.js';
import { processRunner } from './process-runner.js';

const built = fileURLToPath(new URL('../../dist/native/netns.node', import.meta.url));
const compiler = onPath(process.env.CC || 'cc', process.env.PATH ?? '');

let dir: string;
let file: string;
const started: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(`${tmpdir()}/iit-lock-`);
  file = `${dir}/ns`;
  writeFileSync(file, '');
});
afterEach(() => {
  for (const child of started.splice(0)) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Whether another open file description can take the lock right now. */
const free = (path: string) => spawnSync('flock', ['-n', path, 'true']).status === 0;

/** A process holding the lock, as another run would; resolves once it holds it. */
async function holder(path: string): Promise<ChildProcess> {
  // One process, as a run is: the shell locks its fd 9, then becomes the sleep.
  const child = spawn('sh', ['-c', 'exec 9<"$0"; flock 9; echo held; exec sleep 60', path], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  started.push(child);
  await new Promise((resolve) => child.stdout?.once('data', resolve));
  return child;
}

it('the native helper is built wherever a C compiler is, and loads', () => {
  if (!compiler) return;
  expect(existsSync(built)).toBe(true);
  expect(loadNativeHelper(built)).toBeDefined();
  expect(loadNativeHelper(built, { ISTIO_IPTABLES_NATIVE: '0' })).toBeUndefined();
  expect(loadNativeHelper(`${built}.missing`)).toBeUndefined();
});

const MEANS: [string, LockMeans | undefined][] = [
  ['util-linux flock', { runner: processRunner }],
  ['the native helper', compiler ? { runner: processRunner, native: loadNativeHelper(built) } : undefined],
];

describe.each(MEANS.filter((entry): entry is [string, LockMeans] => entry[1] !== undefined))(
  'the namespace lock, by %s',
  (_, taking) => {
    // These files are no namespaces: entering one (setns) is the kernel tests' to prove
    // (test/races.kernel.test.ts); here the helper's entering does nothing.
    const means: LockMeans = taking.native ? { ...taking, native: { ...taking.native, enterNet: () => 0 } } : taking;

    it('is held until released, and is one lock for two names of one file', async () => {
      const lock = await acquireLock(means, file, 1000);
      const other = `${dir}/other-name`;
      linkSync(file, other);
      expect(free(other)).toBe(false);
      lock.release();
      expect(free(other)).toBe(true);
    });

    it('gives up after the timeout, changing nothing, and names the process holding it', async () => {
      const held = await holder(file);
      const error = await acquireLock(means, file, 300, 'network namespace X').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockTimeoutError);
      const message = (error as LockTimeoutError).message;
      expect(message).toContain(
        'another run is working on network namespace X: gave up waiting for its lock after 0.3s',
      );
      expect(message).toContain(`held by pid ${held.pid} (sleep)`);
      held.kill('SIGKILL');
      await new Promise((resolve) => held.once('exit', resolve));
      // The kernel dropped the killed holder's lock: no stale lock to clean.
      (await acquireLock(means, file, 0)).release();
    });

    it('is carried by the commands run under it: a child left running keeps it after we let go', async () => {
      const lock = await acquireLock(means, file, 1000);
      const runner = lockedRunner(processRunner, lock);
      // The child's fd 3 is our lock: locking it again through that descriptor is a no-op success.
      expect((await runner.run({ file: 'flock', args: ['-n', '3', 'true'] })).exitCode).toBe(0);
      const { stdout } = await runner.run({ file: 'sh', args: ['-c', 'sleep 60 >/dev/null 2>&1 & echo $!'] });
      lock.release();
      expect(free(file)).toBe(false);
      process.kill(Number(stdout.trim()), 'SIGKILL');
      for (let i = 0; i < 100 && !free(file); i++) await new Promise((r) => setTimeout(r, 10));
      expect(free(file)).toBe(true);
    });

    it('withNamespaceLock holds it for the work only, also when the work fails', async () => {
      const seen = await withNamespaceLock(means, file, 1000, async () => free(file));
      expect(seen).toBe(false);
      expect(free(file)).toBe(true);
      await expect(
        withNamespaceLock(means, file, 1000, async () => {
          throw new Error('work failed');
        }),
      ).rejects.toThrow('work failed');
      expect(free(file)).toBe(true);
    });

    it('says so when the namespace went away while the work ran', async () => {
      const error = await withNamespaceLock(means, file, 1000, async () => {
        rmSync(file);
        throw new Error('nsenter: cannot open');
      }).catch((e: unknown) => e);
      expect(String(error)).toContain(`network namespace ${file} went away during the run`);
      expect(String(error)).toContain('nsenter: cannot open');
    });

    it('fails a run whose namespace went away after its last command: the rules went nowhere', async () => {
      const error = await withNamespaceLock(means, file, 1000, async () => {
        rmSync(file);
        return 'applied';
      }).catch((e: unknown) => e);
      expect(String(error)).toContain(`network namespace ${file} went away during the run`);
    });
  },
);
