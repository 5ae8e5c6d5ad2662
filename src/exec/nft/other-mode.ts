/**
 * The iptables mode's guard against our native-nftables tables: both modes' rules in one
 * namespace would capture traffic twice. One `nft list tables inet` before an iptables-mode run,
 * only where an `nft` binary is installed (without one, nothing wrote such tables here).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ModeConflictError } from '../../errors.js';
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
  throw new ModeConflictError(
    'Tables of the native nftables mode are live in this namespace; adding iptables rules would capture traffic twice. ' +
      'Nothing was changed. Remove them first: run this command once with --cleanup-only --native-nftables, then again as it is. Found:',
    found,
  );
}
