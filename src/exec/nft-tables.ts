/**
 * Istio's native-nftables mode keeps its rules in tables of its own (`inet istio-proxy-nat`,
 * `-mangle`, `-raw`); a run of this (iptables) mode beside them would capture traffic twice.
 * Found with one `nft list tables inet`, only where an `nft` binary is installed: without one,
 * nothing here wrote such tables. The init image ships nft for --native-nftables, so its runs pay one process.
 * The names must stay those the native-nftables mode writes (its model's table list).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CommandFailedError } from '../errors.js';
import { NFT_TABLES } from '../model/nftables.js';
import type { CommandRunner } from './command.js';

/** The tables of Istio's native-nftables mode, as `nft list tables` prints them. */
export const NATIVE_NFT_TABLES = NFT_TABLES;

/** Whether an `nft` binary is on `path` (a PATH value). */
export function nftInstalled(path: string | undefined): boolean {
  return (path ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, 'nft')));
}

/** `table inet istio-proxy-nat`, … for each native-nftables table live in the namespace. */
export async function nativeNftTables(runner: CommandRunner): Promise<string[]> {
  const result = await runner.run({ file: 'nft', args: ['list', 'tables', 'inet'] }).catch(() => undefined);
  if (result?.exitCode !== 0) return [];
  return result.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => NATIVE_NFT_TABLES.some((name) => line === `table inet ${name}`));
}

/** Deletes the tables `nativeNftTables` found, in one nft transaction. */
export async function deleteNativeNftTables(runner: CommandRunner, tables: readonly string[]): Promise<void> {
  if (tables.length === 0) return;
  const input = tables.map((table) => `delete ${table}\n`).join('');
  const result = await runner.run({ file: 'nft', args: ['-f', '-'], input });
  if (result.exitCode !== 0) throw new CommandFailedError(['nft', '-f', '-'], result.exitCode, result.stderr);
}
