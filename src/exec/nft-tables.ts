/**
 * Istio's native-nftables mode keeps its rules in tables of its own (`inet istio-proxy-nat`,
 * `-mangle`, `-raw`); a run of this (iptables) mode beside them would capture traffic twice.
 * Found by asking the kernel through the native helper (a netlink dump, no process), or else
 * with one `nft list tables inet`, only where an `nft` binary is installed: without one,
 * nothing here wrote such tables.
 * The names must stay those the native-nftables mode writes (its model's table list).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CommandFailedError } from '../errors.js';
import { NFT_TABLES } from '../model/nftables.js';
import type { CommandRunner } from './command.js';
import type { NativeHelper } from './native.js';

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

/** The kernel's NFPROTO_INET: the family of `inet` tables. */
const NFPROTO_INET = 1;

/**
 * The same as `nativeNftTables`, from the kernel through the native helper, in the namespace this
 * process is in. None when the kernel does not answer (as when nft fails).
 */
export async function nativeNftTablesFromKernel(native: NativeHelper): Promise<string[]> {
  const names = native.tableNames(NFPROTO_INET);
  if (typeof names === 'number') return [];
  return NATIVE_NFT_TABLES.filter((name) => names.includes(name)).map((name) => `table inet ${name}`);
}

/**
 * How a run lists those tables: through the native helper where loaded, else with nft where it
 * is installed on `path`; undefined where nothing could have written them.
 */
export function nativeNftTablesLister(
  native: NativeHelper | undefined,
  path: string | undefined,
): ((runner: CommandRunner) => Promise<string[]>) | undefined {
  if (native) return () => nativeNftTablesFromKernel(native);
  return nftInstalled(path) ? nativeNftTables : undefined;
}

/** NFPROTO_UNSPEC: every family. */
const NFPROTO_UNSPEC = 0;

/**
 * Whether the namespace this process is in has no nftables table of any family (iptables-nft's
 * included), through the native helper; false when the kernel does not answer.
 */
export function noNftTables(native: NativeHelper): () => boolean {
  return () => {
    const names = native.tableNames(NFPROTO_UNSPEC);
    return Array.isArray(names) && names.length === 0;
  };
}

/** Deletes the tables `nativeNftTables` found, in one nft transaction. */
export async function deleteNativeNftTables(runner: CommandRunner, tables: readonly string[]): Promise<void> {
  if (tables.length === 0) return;
  const input = tables.map((table) => `delete ${table}\n`).join('');
  const result = await runner.run({ file: 'nft', args: ['-f', '-'], input });
  if (result.exitCode !== 0) throw new CommandFailedError(['nft', '-f', '-'], result.exitCode, result.stderr);
}
