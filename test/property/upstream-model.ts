/**
 * An independent model of upstream's rule generation (ISTIO_BEHAVIOR.md §4, §5 steps 1–17, §7),
 * written from the spec for the property tests — not a copy of src/plan. It takes upstream's
 * effective-configuration record (strings as upstream holds them) and returns each family's
 * iptables-restore payload. CIDR items are looked up in `cidrs`, which the generator fills
 * from the values it drew (so address parsing is not modelled here either).
 *
 * Longer than ~200 lines on purpose: split by spec step, the order (which is the spec) would hide.
 */

/** What the generator knows about a CIDR item it typed. */
export interface CidrFacts {
  readonly family: 'ipv4' | 'ipv6';
  /** Canonical address text, a slash, the length: what upstream prints. */
  readonly canonical: string;
  /** Go's `IsLoopback` of the address (IPv4-mapped unmapped first). */
  readonly loopback: boolean;
}

export type UpstreamRecord = Readonly<Record<string, string | boolean | number | readonly string[] | null>>;

interface Rec {
  readonly table: string;
  readonly chain: string;
  readonly args: readonly string[];
  readonly position?: number;
}

// Built-in chains and the built-in targets a rule can end with (`-j RETURN` declares nothing).
const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING', 'RETURN', 'ACCEPT', 'DROP']);
const split = (text: string) => text.split(',').filter((item) => item !== '');

/** §7: declarations in first-use order, then rules, tables in alphabetical order. */
function serialise(recs: readonly Rec[]): string {
  const lines = new Map<string, string[]>([
    ['filter', []],
    ['nat', []],
    ['mangle', []],
  ]);
  const table = (name: string) => {
    const list = lines.get(name) ?? [];
    lines.set(name, list);
    return list;
  };
  const seen = new Set<string>();
  const declare = (chain: string, name: string) => {
    if (seen.has(`${chain}/${name}`)) return;
    seen.add(`${chain}/${name}`);
    if (!BUILTIN.has(chain)) table(name).push(`-N ${chain}`);
  };
  for (const rec of recs) declare(rec.chain, rec.table);
  for (const rec of recs) {
    const [jump, target] = rec.args.slice(-2);
    if (jump === '-j' && target !== undefined) declare(target, rec.table);
  }
  for (const rec of recs) {
    const head = rec.position === undefined ? `-A ${rec.chain}` : `-I ${rec.chain} ${rec.position}`;
    table(rec.table).push([head, ...rec.args].join(' '));
  }
  return [...lines.keys()]
    .sort()
    .filter((name) => (lines.get(name) ?? []).length > 0)
    .map((name) => `* ${name}\n${(lines.get(name) ?? []).map((line) => `${line}\n`).join('')}COMMIT\n`)
    .join('');
}

/** Upstream's payloads for a record; `ipv6` is '' when IPv6 is off. */
export function upstreamPayloads(
  record: UpstreamRecord,
  cidrs: ReadonlyMap<string, CidrFacts>,
): { ipv4: string; ipv6: string } {
  const text = (key: string) => String(record[key] ?? '');
  const flag = (key: string) => record[key] === true;
  const list = (key: string) => (Array.isArray(record[key]) ? (record[key] as string[]) : []);
  const ipv6 = flag('ENABLE_INBOUND_IPV6');
  const v4: Rec[] = [];
  const v6: Rec[] = [];
  const A = (table: string, chain: string, ...args: string[]): Rec => ({ table, chain, args });
  const I = (table: string, chain: string, position: number, ...args: string[]): Rec => ({
    table,
    chain,
    args,
    position,
  });
  const both = (rec: Rec) => {
    v4.push(rec);
    if (ipv6) v6.push(rec);
  };
  const only4 = (rec: Rec) => v4.push(rec);
  const only6 = (rec: Rec) => {
    if (ipv6) v6.push(rec);
  };
  const LOOP = { v4: text('HOST_IPV4_LOOPBACK_CIDR'), v6: '::1/128' };
  const SELF = { v4: '127.0.0.6/32', v6: '::6/128' };
  /** A "both" rule with one value per family. */
  const versioned = (make: (loop: string, self: string) => Rec) => {
    v4.push(make(LOOP.v4, SELF.v4));
    if (ipv6) v6.push(make(LOOP.v6, SELF.v6));
  };

  const PXY = text('PROXY_PORT');
  const CAP = text('INBOUND_CAPTURE_PORT');
  const TUN = text('INBOUND_TUNNEL_PORT');
  const MARK = text('INBOUND_TPROXY_MARK');
  const tproxy = text('INBOUND_INTERCEPTION_MODE') === 'TPROXY';
  const uids = split(text('PROXY_UID'));
  const gids = split(text('PROXY_GID'));
  const nics = split(text('EXCLUDE_INTERFACES'));
  const virt = split(text('KUBE_VIRT_INTERFACES'));
  const inbound = text('INBOUND_PORTS_INCLUDE');
  const S4 = list('DNS_SERVERS_V4');
  const S6 = list('DNS_SERVERS_V6');
  const ALL = flag('CAPTURE_ALL_DNS');
  const includeText = text('OUTBOUND_IPRANGES_INCLUDE');
  const facts = (item: string): CidrFacts => {
    const found = cidrs.get(item);
    if (!found) throw new Error(`model: no facts for CIDR ${JSON.stringify(item)}`);
    return found;
  };
  const include = includeText === '*' ? '*' : split(includeText).map(facts);
  const exclude = split(text('OUTBOUND_IPRANGES_EXCLUDE')).map(facts);
  // §4.4: DNS on needs servers unless everything is captured.
  const dns = flag('REDIRECT_DNS') && (ALL || S4.length + S6.length > 0);

  // Step 1–3.
  for (const nic of nics) {
    both(A('nat', 'PREROUTING', '-i', nic, '-j', 'RETURN'));
    both(A('nat', 'OUTPUT', '-o', nic, '-j', 'RETURN'));
  }
  if (tproxy) {
    for (const nic of nics) {
      both(A('mangle', 'PREROUTING', '-i', nic, '-j', 'RETURN'));
      both(A('mangle', 'OUTPUT', '-o', nic, '-j', 'RETURN'));
    }
  }
  for (const nic of virt) both(I('nat', 'PREROUTING', 1, '-i', nic, '-j', 'RETURN'));
  if (flag('DROP_INVALID')) {
    both(A('mangle', 'PREROUTING', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'ISTIO_DROP'));
    both(A('mangle', 'ISTIO_DROP', '-j', 'DROP'));
  }
  // Step 4.
  both(A('nat', 'ISTIO_INBOUND', '-p', 'tcp', '--dport', TUN, '-j', 'RETURN'));
  both(A('nat', 'ISTIO_REDIRECT', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', PXY));
  both(A('nat', 'ISTIO_IN_REDIRECT', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', CAP));
  // Step 5.
  if (inbound !== '') {
    const T = tproxy ? 'mangle' : 'nat';
    if (tproxy) {
      both(A('mangle', 'ISTIO_DIVERT', '-j', 'MARK', '--set-mark', MARK));
      both(A('mangle', 'ISTIO_DIVERT', '-j', 'ACCEPT'));
      versioned((loop) =>
        A(
          'mangle',
          'ISTIO_TPROXY',
          '!',
          '-d',
          loop,
          '-p',
          'tcp',
          '-j',
          'TPROXY',
          '--tproxy-mark',
          `${MARK}/0xffffffff`,
          '--on-port',
          CAP,
        ),
      );
    }
    both(A(T, 'PREROUTING', '-p', 'tcp', '-j', 'ISTIO_INBOUND'));
    const related = ['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ISTIO_DIVERT'];
    if (inbound === '*') {
      for (const p of split(text('INBOUND_PORTS_EXCLUDE')))
        both(A(T, 'ISTIO_INBOUND', '-p', 'tcp', '--dport', p, '-j', 'RETURN'));
      if (tproxy) {
        both(A('mangle', 'ISTIO_INBOUND', '-p', 'tcp', ...related));
        both(A('mangle', 'ISTIO_INBOUND', '-p', 'tcp', '-j', 'ISTIO_TPROXY'));
      } else both(A('nat', 'ISTIO_INBOUND', '-p', 'tcp', '-j', 'ISTIO_IN_REDIRECT'));
    } else {
      for (const p of split(inbound)) {
        if (tproxy) {
          both(A('mangle', 'ISTIO_INBOUND', '-p', 'tcp', '--dport', p, ...related));
          both(A('mangle', 'ISTIO_INBOUND', '-p', 'tcp', '--dport', p, '-j', 'ISTIO_TPROXY'));
        } else both(A('nat', 'ISTIO_INBOUND', '-p', 'tcp', '--dport', p, '-j', 'ISTIO_IN_REDIRECT'));
      }
    }
  }
  // Steps 6–8.
  both(A('nat', 'OUTPUT', '-j', 'ISTIO_OUTPUT'));
  for (const p of split(text('OUTBOUND_PORTS_EXCLUDE'))) {
    both(A('nat', 'ISTIO_OUTPUT', '-p', 'tcp', '--dport', p, '-j', 'RETURN'));
    both(A('nat', 'ISTIO_OUTPUT', '-p', 'udp', '--dport', p, '-j', 'RETURN'));
  }
  versioned((_loop, self) => A('nat', 'ISTIO_OUTPUT', '-o', 'lo', '-s', self, '-j', 'RETURN'));
  // Steps 9–10.
  const hasLoopback = include !== '*' && include.some((cidr) => cidr.loopback);
  for (const [kind, ids] of [
    ['--uid-owner', uids],
    ['--gid-owner', gids],
  ] as const) {
    for (const id of ids) {
      const exempt =
        dns && kind === '--uid-owner' ? ['-m', 'multiport', '!', '--dports', `53,${TUN}`] : ['!', '--dport', TUN];
      versioned((loop) =>
        A(
          'nat',
          'ISTIO_OUTPUT',
          '-o',
          'lo',
          '!',
          '-d',
          loop,
          '-p',
          'tcp',
          ...exempt,
          '-m',
          'owner',
          kind,
          id,
          '-j',
          'ISTIO_IN_REDIRECT',
        ),
      );
      if (!hasLoopback) {
        const notDns = dns ? ['-p', 'tcp', '!', '--dport', '53'] : [];
        both(A('nat', 'ISTIO_OUTPUT', '-o', 'lo', ...notDns, '-m', 'owner', '!', kind, id, '-j', 'RETURN'));
      }
      both(A('nat', 'ISTIO_OUTPUT', '-m', 'owner', kind, id, '-j', 'RETURN'));
    }
  }
  // Step 11.
  if (text('OUTBOUND_OWNER_GROUPS_INCLUDE') === '*') {
    for (const g of split(text('OUTBOUND_OWNER_GROUPS_EXCLUDE')))
      both(A('nat', 'ISTIO_OUTPUT', '-m', 'owner', '--gid-owner', g, '-j', 'RETURN'));
  } else {
    const matches = split(text('OUTBOUND_OWNER_GROUPS_INCLUDE')).flatMap((g) => ['-m', 'owner', '!', '--gid-owner', g]);
    both(A('nat', 'ISTIO_OUTPUT', ...matches, '-j', 'RETURN'));
  }
  // Step 12.
  if (dns) {
    both(A('raw', 'OUTPUT', '-j', 'ISTIO_OUTPUT_DNS'));
    if (ALL || S4.length > 0) only4(A('nat', 'ISTIO_OUTPUT', '-j', 'ISTIO_OUTPUT_DNS'));
    if (ALL || S6.length > 0) only6(A('nat', 'ISTIO_OUTPUT', '-j', 'ISTIO_OUTPUT_DNS'));
    for (const [proto, toPort] of [
      ['tcp', '--to-ports'],
      ['udp', '--to-port'],
    ] as const) {
      const redirect = ['-j', 'REDIRECT', toPort, '15053'];
      if (ALL) both(A('nat', 'ISTIO_OUTPUT_DNS', '-p', proto, '--dport', '53', ...redirect));
      else {
        for (const s of S4)
          only4(A('nat', 'ISTIO_OUTPUT_DNS', '-p', proto, '--dport', '53', '-d', `${s}/32`, ...redirect));
        for (const s of S6)
          only6(A('nat', 'ISTIO_OUTPUT_DNS', '-p', proto, '--dport', '53', '-d', `${s}/128`, ...redirect));
      }
    }
    for (const [kind, ids] of [
      ['--uid-owner', uids],
      ['--gid-owner', gids],
    ] as const) {
      for (const id of ids) {
        both(
          A(
            'raw',
            'ISTIO_OUTPUT_DNS',
            '-p',
            'udp',
            '--dport',
            '53',
            '-m',
            'owner',
            kind,
            id,
            '-j',
            'CT',
            '--zone',
            '1',
          ),
        );
        both(
          A(
            'raw',
            'ISTIO_OUTPUT_DNS',
            '-p',
            'udp',
            '--sport',
            '15053',
            '-m',
            'owner',
            kind,
            id,
            '-j',
            'CT',
            '--zone',
            '2',
          ),
        );
      }
    }
    if (ALL) {
      both(A('raw', 'PREROUTING', '-j', 'ISTIO_INBOUND'));
      both(A('raw', 'ISTIO_OUTPUT_DNS', '-p', 'udp', '--dport', '53', '-j', 'CT', '--zone', '2'));
      both(A('raw', 'ISTIO_INBOUND', '-p', 'udp', '--sport', '53', '-j', 'CT', '--zone', '1'));
    } else {
      for (const [servers, add, length] of [
        [S4, only4, '32'],
        [S6, only6, '128'],
      ] as const) {
        if (servers.length > 0) add(A('raw', 'PREROUTING', '-j', 'ISTIO_INBOUND'));
        for (const s of servers) {
          add(
            A(
              'raw',
              'ISTIO_OUTPUT_DNS',
              '-p',
              'udp',
              '--dport',
              '53',
              '-d',
              `${s}/${length}`,
              '-j',
              'CT',
              '--zone',
              '2',
            ),
          );
          add(
            A('raw', 'ISTIO_INBOUND', '-p', 'udp', '--sport', '53', '-s', `${s}/${length}`, '-j', 'CT', '--zone', '1'),
          );
        }
      }
    }
  }
  // Steps 13–16.
  versioned((loop) => A('nat', 'ISTIO_OUTPUT', '-d', loop, '-j', 'RETURN'));
  for (const family of ['ipv4', 'ipv6'] as const) {
    const add = family === 'ipv4' ? only4 : only6;
    for (const cidr of exclude.filter((c) => c.family === family))
      add(A('nat', 'ISTIO_OUTPUT', '-d', cidr.canonical, '-j', 'RETURN'));
  }
  for (const p of split(text('OUTBOUND_PORTS_INCLUDE')))
    both(A('nat', 'ISTIO_OUTPUT', '-p', 'tcp', '--dport', p, '-j', 'ISTIO_REDIRECT'));
  for (const family of ['ipv4', 'ipv6'] as const) {
    const add = family === 'ipv4' ? only4 : only6;
    if (include === '*') {
      add(A('nat', 'ISTIO_OUTPUT', '-j', 'ISTIO_REDIRECT'));
      for (const nic of virt) add(I('nat', 'PREROUTING', 1, '-i', nic, '-j', 'ISTIO_REDIRECT'));
      continue;
    }
    for (const cidr of include.filter((c) => c.family === family)) {
      for (const nic of virt) add(I('nat', 'PREROUTING', 1, '-i', nic, '-d', cidr.canonical, '-j', 'ISTIO_REDIRECT'));
      add(A('nat', 'ISTIO_OUTPUT', '-d', cidr.canonical, '-j', 'ISTIO_REDIRECT'));
    }
  }
  // Step 17.
  if (tproxy) {
    both(A('mangle', 'PREROUTING', '-p', 'tcp', '-m', 'mark', '--mark', MARK, '-j', 'CONNMARK', '--save-mark'));
    both(A('mangle', 'OUTPUT', '-p', 'tcp', '-o', 'lo', '-m', 'mark', '--mark', MARK, '-j', 'RETURN'));
    for (const [kind, ids] of [
      ['--uid-owner', uids],
      ['--gid-owner', gids],
    ] as const) {
      for (const id of ids)
        versioned((loop) =>
          A(
            'mangle',
            'OUTPUT',
            '!',
            '-d',
            loop,
            '-p',
            'tcp',
            '-o',
            'lo',
            '-m',
            'owner',
            kind,
            id,
            '-j',
            'MARK',
            '--set-mark',
            '1338',
          ),
        );
    }
    both(A('mangle', 'OUTPUT', '-p', 'tcp', '-m', 'connmark', '--mark', MARK, '-j', 'CONNMARK', '--restore-mark'));
    both(I('mangle', 'ISTIO_INBOUND', 1, '-p', 'tcp', '-m', 'mark', '--mark', MARK, '-j', 'RETURN'));
    only4(I('mangle', 'ISTIO_INBOUND', 2, '-p', 'tcp', '-s', SELF.v4, '-i', 'lo', '-j', 'RETURN'));
    only6(I('mangle', 'ISTIO_INBOUND', 2, '-p', 'tcp', '-s', SELF.v6, '-i', 'lo', '-j', 'RETURN'));
    both(I('mangle', 'ISTIO_INBOUND', 3, '-p', 'tcp', '-i', 'lo', '-m', 'mark', '!', '--mark', '1338', '-j', 'RETURN'));
  }
  return { ipv4: serialise(v4), ipv6: ipv6 ? serialise(v6) : '' };
}
