/**
 * User and group names in the rules, resolved before anything is applied. nft resolves a name
 * in `skuid`/`skgid` when it loads the rules, from the user and group files of the filesystem
 * it runs in (ours: entering a namespace, by setns or nsenter, changes only the network); an unknown name fails the
 * whole transaction with "Group does not exist" (spec §17.12). Here it is bad input, named by
 * its setting, before any nft process runs. The ids also tell how nft lists the rules back.
 */
import type { CaptureConfig } from '../../config/capture-config.js';
import { ConfigError, type Issue } from '../../errors.js';
import type { OwnerIds } from '../../state/nft/listing.js';

/** `name:x:id:…` lines (passwd and group share the first three fields). */
export function parseIdFile(text: string): Map<string, number> {
  const ids = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id !== undefined && /^[0-9]+$/.test(id) && !ids.has(name)) ids.set(name, Number(id));
  }
  return ids;
}

/** A name, not a number or a range (items may be padded with spaces, which nft skips). */
const isName = (id: string) => !/^[0-9]+([-:][0-9]+)?$/.test(id.trim());

/**
 * The ids of every name the rules use.
 * @throws ConfigError naming each unknown user or group and the setting it came from.
 */
export async function resolveOwners(
  config: CaptureConfig,
  readTextFile: (path: string) => Promise<string>,
): Promise<OwnerIds> {
  const groupsUsed = config.outbound.ownerGroups;
  const wanted: { readonly source: string; readonly kind: 'user' | 'group'; readonly names: readonly string[] }[] = [
    { source: '--proxy-uid', kind: 'user', names: config.proxy.uids },
    { source: '--proxy-gid', kind: 'group', names: config.proxy.gids },
    groupsUsed.kind === 'only'
      ? { source: 'ISTIO_OUTBOUND_OWNER_GROUPS', kind: 'group', names: groupsUsed.items }
      : {
          source: 'ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE',
          kind: 'group',
          names: groupsUsed.kind === 'all' ? groupsUsed.except : [],
        },
  ];
  const read = async (path: string) => parseIdFile(await readTextFile(path).catch(() => ''));
  const users = wanted.some((w) => w.kind === 'user' && w.names.some(isName)) ? await read('/etc/passwd') : new Map();
  const groups = wanted.some((w) => w.kind === 'group' && w.names.some(isName)) ? await read('/etc/group') : new Map();
  const issues: Issue[] = [];
  for (const { source, kind, names } of wanted) {
    for (const name of names.filter(isName).map((n) => n.trim())) {
      if (!(kind === 'user' ? users : groups).has(name))
        issues.push({
          source,
          value: name,
          message: `no such ${kind} in /etc/${kind === 'user' ? 'passwd' : 'group'}: nft resolves ${kind} names when it loads the rules, and refuses the whole transaction for an unknown one (use the numeric id)`,
        });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { users, groups };
}
