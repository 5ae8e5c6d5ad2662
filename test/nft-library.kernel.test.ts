/**
 * nft through the native helper's libnftables (src/exec/nft-library.ts), in namespaces each
 * test makes and deletes: the nft program is the oracle. The library must load what `nft -f -`
 * loads, list what `nft list ruleset` lists, refuse what it refuses with the very same message
 * (line numbers included), and change nothing when it refuses; and a real run, with the helper,
 * must start no nft process at all, and without it one per step, to the same tables.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, test } from 'vitest';
import { onPath } from '../src/exec/preflight.js';
import { kernelSkipReason, REPO, runTool, withNamespace, type Namespace } from './support/kernel.js';

const HELPER = `${REPO}dist/native/netns.node`;
/** Where a C compiler is, `npm run build` builds the helper (src/exec/lock.test.ts checks that). */
const helperBuilt = onPath(process.env.CC || 'cc', process.env.PATH ?? '') !== undefined;
const ARGS = [
  '-u',
  '1337',
  '--native-nftables',
  '--enable-inbound-ipv6=true',
  '-m',
  'TPROXY',
  '-b',
  '*',
  '-i',
  '*',
  '--redirect-dns',
];

/** Node, in namespace `ns`, running `commands` through the library with processes forbidden. */
async function throughLibrary(ns: Namespace, commands: { args: string[]; input?: string }[]) {
  const script = `
    import { loadNativeHelper } from ${JSON.stringify(`${REPO}dist/exec/native.js`)};
    import { nftLibraryRunner } from ${JSON.stringify(`${REPO}dist/exec/nft-library.js`)};
    const native = loadNativeHelper(${JSON.stringify(HELPER)});
    const noProcesses = { run: async (c) => { throw new Error('started a process: ' + c.file); } };
    const nft = nftLibraryRunner(native, noProcesses);
    const results = [];
    for (const command of ${JSON.stringify(commands)}) results.push(await nft.run({ file: 'nft', ...command }));
    console.log(JSON.stringify(results));`;
  const { stdout } = await ns.exec(process.execPath, ['--input-type=module', '-e', script]);
  return JSON.parse(stdout) as { exitCode: number; stdout: string; stderr: string }[];
}

async function transaction(): Promise<string> {
  const dry = await runTool([...ARGS, '--dry-run']);
  expect(dry.code, dry.stderr).toBe(0);
  return dry.stdout
    .split(/(?<=\n)/)
    .filter((line) => !line.startsWith('#'))
    .join('');
}

describe.skipIf(kernelSkipReason || !helperBuilt)("nft through the helper's libnftables", () => {
  test('loads, lists and refuses exactly as the nft program does, and a refusal changes nothing', async () => {
    expect(existsSync(HELPER)).toBe(true);
    const good = await transaction();
    // Line 3 is the one nft refuses: the message must say so, as nft's does.
    const bad = 'add table inet probe\nadd chain inet probe c\nadd rule inet probe missing counter\n';
    await withNamespace('nftlib', async (ns) => {
      const [applied, listed, refused, after] = await throughLibrary(ns, [
        { args: ['-f', '-'], input: good },
        { args: ['list', 'ruleset'] },
        { args: ['-f', '-'], input: bad },
        { args: ['list', 'ruleset'] },
      ]);
      expect(applied).toEqual({ exitCode: 0, stdout: '', stderr: '' });
      // sh (execa) drops the program's last newline.
      const program = await ns.exec('nft', ['list', 'ruleset']);
      expect(listed?.stdout).toBe(`${program.stdout}\n`);
      expect(listed?.stdout).toContain('table inet istio-proxy-mangle');
      const refusedByProgram = await ns.exec('nft', ['-f', '-'], { input: bad, reject: false });
      expect(refusedByProgram.code).toBe(1);
      expect(refused).toEqual({ exitCode: 1, stdout: '', stderr: `${refusedByProgram.stderr}\n` });
      expect(refused?.stderr).toMatch(/^\/dev\/stdin:3:/);
      expect(after?.stdout).toBe(listed?.stdout);
    });
    await withNamespace('nftlib-control', async (control) => {
      await control.exec('nft', ['-f', '-'], { input: good });
      const [listed] = await throughLibrary(control, [{ args: ['list', 'ruleset'] }]);
      expect(listed?.stdout).toBe(`${(await control.exec('nft', ['list', 'ruleset'])).stdout}\n`);
    });
  });

  test('a real run starts no nft process with the helper, and one per step without it, to the same tables', async () => {
    const bin = mkdtempSync(`${tmpdir()}/iit-nft-wrapper-`);
    try {
      const log = `${bin}/calls`;
      writeFileSync(log, '');
      writeFileSync(`${bin}/nft`, `#!/bin/sh\necho "$*" >> ${log}\nexec /usr/sbin/nft "$@"\n`);
      chmodSync(`${bin}/nft`, 0o755);
      const PATH = `${bin}:${process.env.PATH ?? ''}`;
      const listings: string[] = [];
      for (const env of [{ PATH }, { PATH, ISTIO_IPTABLES_NATIVE: '0' }]) {
        await withNamespace('nftlib-run', async (ns) => {
          for (let run = 0; run < 2; run++) {
            const result = await runTool([...ARGS, '--network-namespace', ns.path], env);
            expect(result.code, result.stderr).toBe(0);
          }
          listings.push((await ns.exec('nft', ['list', 'ruleset'])).stdout.replace(/ packets \d+ bytes \d+/g, ''));
        });
        const calls = readFileSync(log, 'utf8');
        writeFileSync(log, '');
        if (env.ISTIO_IPTABLES_NATIVE === undefined) expect(calls).toBe('');
        else expect(calls.split('\n')).toEqual(expect.arrayContaining(['-f -', 'list ruleset']));
      }
      expect(listings[0]).toContain('table inet istio-proxy-nat');
      expect(listings[0]).toBe(listings[1]);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
