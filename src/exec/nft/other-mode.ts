/**
 * The iptables mode's guard against our native-nftables tables: both modes' rules in one
 * namespace would capture traffic twice. One `nft list tables inet` before an iptables-mode run,
 * only where an `nft` binary is installed (without one, nothing wrote such tables here).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ModeConflictError } from '../../errors.js';
import { FAMILIES, FAMILY, type IpFamily } from '../../model/family.js';
import { NFT_TABLES } from '../../model/nftables.js';
import type { CommandRunner } from '../command.js';

function nftInstalled(path: string | undefined): boolean {
  return (path ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, 'nft')));
}

/** @throws ModeConflictError when a table of `--native-nftables` is live. */
export async function refuseNftablesMode(runner: CommandRunner, path = process.env.PATH): Promise<void> {
  if (!nftInstalled(path)) return;
  const result = await runner.run({ file: 'nft', args: ['list', 'tables', 'inet'] }).catch(() => undefined);
  if (result?.exitCode !== 0 || !result) return;
  const found = result.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => NFT_TABLES.some((name) => line === `table inet ${name}`));
  if (found.length === 0) return;
  throw new ModeConflictError('nftables', found);
}

/**
 * Our chains of the iptables mode in legacy iptables, which nft cannot see: read with
 * `iptables-legacy-save` only for a family whose legacy tables may exist (`legacyTables`, as
 * the iptables mode's detection knows it without a process). `ip nat ISTIO_OUTPUT`, …
 */
export async function legacyIptablesChains(
  runner: CommandRunner,
  legacyTables: (family: IpFamily) => boolean | undefined,
): Promise<string[]> {
  const found: string[] = [];
  for (const family of FAMILIES) {
    if (legacyTables(family) === false) continue;
    const binary = `${FAMILY[family].iptables}-legacy-save`;
    const result = await runner.run({ file: binary, args: [] }).catch(() => undefined);
    if (result?.exitCode !== 0 || !result) continue;
    let table = '';
    for (const line of result.stdout.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1);
      const chain = /^:(ISTIO_\S+)/.exec(line)?.[1];
      if (chain) found.push(`legacy ${family === 'ipv4' ? 'ip' : 'ip6'} ${table} ${chain}`);
    }
  }
  return found;
}
