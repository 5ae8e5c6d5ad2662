/** The cases' args.txt format (see test/fixtures/nftables/README.md) → argv and env. */

/** `#` lines of args.txt that stand for settings without an upstream flag. */
const FLAG_FOR = {
  ENABLE_INBOUND_IPV6: '--enable-inbound-ipv6',
  DNS_SERVERS_V4: '--dns-servers-v4',
  DNS_SERVERS_V6: '--dns-servers-v6',
} as const;
const ENV_ONLY = new Set([
  'ISTIO_OUTBOUND_OWNER_GROUPS',
  'ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE',
  'ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR',
]);
const IGNORED = new Set(['HOST_IP']);

/** One flag per line (`-p 15001`), then `# NAME=VALUE -- explanation` lines for the rest. */
export function argsTxtToCli(text: string): { argv: string[]; env: Record<string, string> } {
  const argv: string[] = [];
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (!line.startsWith('#')) {
      const space = line.indexOf(' ');
      argv.push(...(space < 0 ? [line] : [line.slice(0, space), line.slice(space + 1)]));
      continue;
    }
    if (line.startsWith('# NOTE:')) continue;
    const match = /^# ([A-Z0-9_]+)=(.*?) -- /.exec(line);
    if (!match) throw new Error(`unrecognised comment line: ${line}`);
    const [, name = '', value = ''] = match;
    if (name in FLAG_FOR) argv.push(`${FLAG_FOR[name as keyof typeof FLAG_FOR]}=${value}`);
    else if (ENV_ONLY.has(name)) env[name] = value;
    else if (!IGNORED.has(name)) throw new Error(`unmapped setting ${name} in: ${line}`);
  }
  return { argv, env };
}
