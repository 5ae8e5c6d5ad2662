/**
 * The live rules of a network namespace (the given one, or this process's own), read for
 * `explain` with the same runner, namespace entry and backend detection a run uses. Here, in
 * the CLI layer, because src/explain never runs a process.
 */
import type { RunOptions } from '../../config/capture-config.js';
import { nftSource, savedSource, type RuleSource } from '../../explain/explain.js';
import { rulesetFromListing, withPlannedNftOrigins } from '../../explain/nft/ruleset.js';
import { Nft } from '../../exec/nft/nft.js';
import type { NftTableState } from '../../model/nftables.js';
import type { Routing } from '../../explain/walk.js';
import { detectBackend } from '../../exec/backend.js';
import type { CommandRunner } from '../../exec/command.js';
import { parseIpAddrShow } from '../../exec/host-facts.js';
import { checkNetnsPath, netnsRunner } from '../../exec/netns.js';
import { FAMILIES, type IpFamily } from '../../model/family.js';
import { isLoopbackAddress, parseIpAddress, type IpAddress } from '../../model/network.js';
import { parseFwmarkRules } from '../../state/ip-rule.js';
import { parseSavedRules } from '../../state/rule-parser.js';

/** The rules of both families, the fwmark policy rules, and the namespace's own addresses. */
export interface LiveRules {
  readonly source: RuleSource;
  readonly addresses: readonly IpAddress[];
  /** The backend each family's rules were read with. */
  readonly backends: ReadonlyMap<IpFamily, { readonly binary: string; readonly variant: 'nft' | 'legacy' }>;
}

export async function readLiveRules(base: CommandRunner, options: RunOptions): Promise<LiveRules> {
  const netns = options.networkNamespace;
  if (netns) await checkNetnsPath(netns);
  const runner = netnsRunner(base, netns);
  const dumps = [];
  const notes: string[] = [];
  const backends = new Map<IpFamily, { binary: string; variant: 'nft' | 'legacy' }>();
  for (const family of FAMILIES) {
    try {
      const detected = await detectBackend(runner, family, {
        forced: options.iptables,
        ...(netns ? { netnsPath: netns } : {}),
      });
      dumps.push({ ...parseSavedRules(detected.state), family });
      notes.push(`${family}: read with ${detected.backend.binary}-save`);
      backends.set(family, { binary: detected.backend.binary, variant: detected.backend.variant });
    } catch (error) {
      // IPv6 may be off in the namespace; IPv4 must be readable.
      if (family === 'ipv4') throw error;
      notes.push(`ipv6: no rules read (${(error as Error).message})`);
    }
  }
  const routing = await readRouting(runner);
  const addresses = await readOwnAddresses(runner);
  const source = savedSource(netns ? `live ${netns}` : 'live', dumps, routing);
  return { source: { ...source, notes: [...notes, ...(source.notes ?? [])] }, addresses, backends };
}

/** The fwmark policy rules of each family (`ip rule show`). */
async function readRouting(runner: CommandRunner): Promise<Map<IpFamily, Routing>> {
  const routing = new Map<IpFamily, Routing>();
  for (const family of FAMILIES) {
    const rules = await runner.run({ file: 'ip', args: [family === 'ipv4' ? '-4' : '-6', 'rule', 'show'] });
    if (rules.exitCode === 0) routing.set(family, { fwmarks: parseFwmarkRules(rules.stdout) });
  }
  return routing;
}

/** The pod's own addresses, not lo's (where the proxy's passthrough source ::6 lives), nor link-local ones. */
async function readOwnAddresses(runner: CommandRunner): Promise<IpAddress[]> {
  const shown = await runner.run({ file: 'ip', args: ['-o', 'addr', 'show'] });
  const notLo = shown.stdout
    .split('\n')
    .filter((line) => !/^\d+:\s+lo\s/.test(line))
    .join('\n');
  return (shown.exitCode === 0 ? parseIpAddrShow(notLo) : [])
    .map((text) => parseIpAddress(text, { canonical: true }))
    .filter((a): a is IpAddress => typeof a !== 'string' && !isLoopbackAddress(a) && a.value >> 118n !== 0x3fan);
}

/**
 * `--native-nftables`: the namespace's whole `nft list ruleset` (our tables, and anyone
 * else's, iptables-nft's included: all are base chains the packet passes), walked as nftables;
 * rules this tool plans for the settings given get their provenance.
 */
export async function readLiveNftRules(
  base: CommandRunner,
  options: RunOptions,
  planned: readonly NftTableState[],
): Promise<Omit<LiveRules, 'backends'>> {
  const netns = options.networkNamespace;
  if (netns) await checkNetnsPath(netns);
  const runner = netnsRunner(base, netns);
  const listing = await new Nft(runner).list();
  const ruleset = withPlannedNftOrigins(rulesetFromListing(listing), planned);
  const source = nftSource(
    netns ? `live ${netns} (nft list ruleset)` : 'live (nft list ruleset)',
    ruleset,
    await readRouting(runner),
  );
  return { source, addresses: await readOwnAddresses(runner) };
}
