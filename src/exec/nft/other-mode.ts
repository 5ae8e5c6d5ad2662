/**
 * The nftables mode's guard against our iptables-mode rules where nft cannot see them (legacy
 * iptables): both modes' rules in one namespace would capture traffic twice. (iptables-nft's
 * chains are in the ruleset the run lists anyway; the iptables mode's own guard against our
 * nftables tables is exec/copies.ts.)
 */
import { FAMILIES, FAMILY, type IpFamily } from '../../model/family.js';
import type { CommandRunner } from '../command.js';

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
