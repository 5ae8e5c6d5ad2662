/**
 * Real traffic through the applied rules. A "pod" and a "peer" namespace joined by two veth
 * links, addresses only from documentation ranges; servers and clients are
 * test/fixtures/endpoint.py processes run inside them as a given uid/gid.
 *
 *   pod                                    peer
 *   main link    192.0.2.2/26  2001:db8:1::2/64  ── 192.0.2.1   2001:db8:1::1   (resolver :53)
 *   second link  192.0.2.66/26 2001:db8:2::2/64  ── 192.0.2.65  2001:db8:2::1
 *   default route via the main link            "external" on lo: 198.51.100.10, .20,
 *                                                2001:db8:e::10, ::20 (:80, :8443, :53);
 *                                                .99 / e::99 routed to the pod over the second link
 */
import { execa, type ResultPromise } from 'execa';
import { chmodSync, copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, readableDir, runTool, withNamespace, type Namespace } from './kernel.js';

export const ENDPOINT = readableCopy(`${REPO}test/fixtures/endpoint.py`);

/**
 * A copy of `file` any uid can read: endpoint.py runs as the proxy's and the app's users, and a
 * checkout may sit in a directory only root may enter (CI's clone in a `mktemp -d`).
 * Removed when the test process exits.
 */
function readableCopy(file: string): string {
  const dir = readableDir('iit-endpoint-');
  const copy = join(dir, 'endpoint.py');
  copyFileSync(file, copy);
  chmodSync(copy, 0o644);
  return copy;
}

/**
 * The system interpreter: endpoints run as unprivileged users, who may not be able to reach
 * a `python3` earlier on root's PATH (e.g. a pyenv shim under /root).
 */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export type Family = 'ipv4' | 'ipv6';
/** iptables through its nft or legacy backend, or native nftables (`--native-nftables`). */
export type Backend = 'nft' | 'legacy' | 'native-nftables';

/** The flags that pick a backend. */
export function backendArgs(backend: Backend): string[] {
  return backend === 'native-nftables' ? ['--native-nftables'] : ['--force-iptables-binary', backend];
}
export type Mode = 'REDIRECT' | 'TPROXY';

export interface Addresses {
  readonly family: Family;
  readonly pod: string;
  readonly peer: string;
  readonly pod2: string;
  readonly peer2: string;
  /** On the peer's lo, reached through the pod's default route. */
  readonly ext: string;
  readonly ext2: string;
  /** Nobody's address: the peer routes it to the pod over the second link. */
  readonly nowhere: string;
  readonly loopback: string;
  /** The proxy's inbound-passthrough source address. */
  readonly passthrough: string;
  readonly any: string;
  /** `x/32` or `x/128`. */
  host(address: string): string;
}

export const NET: Readonly<Record<Family, Addresses>> = {
  ipv4: {
    family: 'ipv4',
    pod: '192.0.2.2',
    peer: '192.0.2.1',
    pod2: '192.0.2.66',
    peer2: '192.0.2.65',
    ext: '198.51.100.10',
    ext2: '198.51.100.20',
    nowhere: '198.51.100.99',
    loopback: '127.0.0.1',
    passthrough: '127.0.0.6',
    any: '0.0.0.0',
    host: (a) => `${a}/32`,
  },
  ipv6: {
    family: 'ipv6',
    pod: '2001:db8:1::2',
    peer: '2001:db8:1::1',
    pod2: '2001:db8:2::2',
    peer2: '2001:db8:2::1',
    ext: '2001:db8:e::10',
    ext2: '2001:db8:e::20',
    nowhere: '2001:db8:e::99',
    loopback: '::1',
    passthrough: '::6',
    any: '::',
    host: (a) => `${a}/128`,
  },
};

/** `host:port`, bracketed for IPv6, as endpoint.py prints it. */
export const at = (host: string, port: number): string =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

export interface Identity {
  readonly uid: number;
  readonly gid: number;
}
export const PROXY: Identity = { uid: 1337, gid: 1337 };
export const APP: Identity = { uid: 1000, gid: 1000 };
/** Not the proxy's uid, but the proxy's gid. */
export const PROXY_GROUP_ONLY: Identity = { uid: 1500, gid: 1337 };
export const ROOT = 'root' as const;
export type Who = Identity | typeof ROOT;

/** Every check waits at most this long. */
const CLIENT_TIMEOUT_S = 2;
const PROCESS_TIMEOUT_MS = 3000;

function runAs(who: Who, caps: readonly string[] = []): string[] {
  if (who === ROOT) return [];
  const capArgs =
    caps.length > 0
      ? ['--inh-caps', caps.map((c) => `+${c}`).join(','), '--ambient-caps', caps.map((c) => `+${c}`).join(',')]
      : [];
  return ['setpriv', '--reuid', String(who.uid), '--regid', String(who.gid), '--clear-groups', ...capArgs];
}

/** `src=IP:PORT` → `src=IP`: the client's port is random. */
export function normalizeReply(line: string): string {
  return line.replace(
    /\bsrc=(?:\[([^\]]+)\]|([^\s:]+)):\d+/,
    (_m, v6: string | undefined, v4: string | undefined) => `src=${v6 ?? v4}`,
  );
}

const SERVER_OPTIONS = { reject: false, stdin: 'ignore' } as const;

export class Server {
  private output = '';
  constructor(
    readonly label: string,
    private readonly child: ResultPromise<typeof SERVER_OPTIONS>,
  ) {}

  /** Resolves once endpoint.py printed READY; rejects if it exits first or takes over 3 s. */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.label}: not listening after ${PROCESS_TIMEOUT_MS} ms: ${this.output}`)),
        PROCESS_TIMEOUT_MS,
      );
      this.child.stdout?.on('data', (chunk: Buffer) => {
        this.output += chunk.toString();
        if (this.output.includes('READY\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void this.child.then((result) => {
        clearTimeout(timer);
        reject(new Error(`${this.label} exited (${result.exitCode}): ${String(result.stderr)}`));
      });
    });
  }

  /** The answers this server gave, one line each (src port included). */
  get accepted(): string[] {
    return this.output
      .split('\n')
      .filter((l) => l.startsWith('ACCEPT '))
      .map((l) => l.slice('ACCEPT '.length));
  }

  /** Waits (at most 3 s) until the server has reported at least `count` answers. */
  async waitForAccepted(count: number): Promise<void> {
    const deadline = Date.now() + PROCESS_TIMEOUT_MS;
    while (this.accepted.length < count) {
      if (Date.now() > deadline)
        throw new Error(`${this.label}: ${this.accepted.length} of ${count} answers after ${PROCESS_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Stops this server (its own pid only) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.child;
  }
}

export type Side = 'pod' | 'peer';

/**
 * Fixed link-layer addresses and static neighbour entries: no ARP or neighbour discovery in a
 * check's time budget (the first IPv6 solicitation over a fresh veth tends to be lost, which
 * costs a 1 s retransmission).
 */
const MAC = {
  main: { pod: '02:00:00:00:01:02', peer: '02:00:00:00:01:01' },
  second: { pod: '02:00:00:00:02:02', peer: '02:00:00:00:02:01' },
} as const;

export class Pair {
  private readonly servers: Server[] = [];
  /** veth names, unique per test (≤ 15 characters). */
  readonly links: { readonly main: { pod: string; peer: string }; readonly second: { pod: string; peer: string } };

  constructor(
    readonly pod: Namespace,
    readonly peer: Namespace,
    id: number,
  ) {
    this.links = { main: { pod: `tp${id}`, peer: `tq${id}` }, second: { pod: `tk${id}`, peer: `tl${id}` } };
  }

  ns(side: Side): Namespace {
    return side === 'pod' ? this.pod : this.peer;
  }

  async setUp(): Promise<void> {
    const { main, second } = this.links;
    const v4 = NET.ipv4;
    const v6 = NET.ipv6;
    // No duplicate address detection (link-local addresses included): IPv6 is usable at once.
    const noDad = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'];
    // The app's listener on the pod IP's port 53 runs as an ordinary user.
    await this.pod.exec('sysctl', ['-qw', ...noDad, 'net.ipv4.ip_unprivileged_port_start=0']);
    await this.peer.exec('sysctl', ['-qw', ...noDad]);
    await batch(this.pod, [
      `link add ${main.pod} address ${MAC.main.pod} type veth peer name ${main.peer} address ${MAC.main.peer} netns ${this.peer.name}`,
      `link add ${second.pod} address ${MAC.second.pod} type veth peer name ${second.peer} address ${MAC.second.peer} netns ${this.peer.name}`,
      `addr add ${v4.pod}/26 dev ${main.pod}`,
      `addr add ${v6.pod}/64 dev ${main.pod} nodad`,
      `addr add ${v4.pod2}/26 dev ${second.pod}`,
      `addr add ${v6.pod2}/64 dev ${second.pod} nodad`,
      `link set ${main.pod} up`,
      `link set ${second.pod} up`,
      `route add default via ${v4.peer} dev ${main.pod}`,
      `route add ::/0 via ${v6.peer} dev ${main.pod}`,
      ...[v4.peer, v6.peer].map((a) => `neigh add ${a} lladdr ${MAC.main.peer} dev ${main.pod} nud permanent`),
      ...[v4.peer2, v6.peer2].map((a) => `neigh add ${a} lladdr ${MAC.second.peer} dev ${second.pod} nud permanent`),
    ]);
    await batch(this.peer, [
      `addr add ${v4.peer}/26 dev ${main.peer}`,
      `addr add ${v6.peer}/64 dev ${main.peer} nodad`,
      `addr add ${v4.peer2}/26 dev ${second.peer}`,
      `addr add ${v6.peer2}/64 dev ${second.peer} nodad`,
      ...[v4.ext, v4.ext2].map((a) => `addr add ${a}/32 dev lo`),
      ...[v6.ext, v6.ext2].map((a) => `addr add ${a}/128 dev lo`),
      `link set ${main.peer} up`,
      `link set ${second.peer} up`,
      `route add ${v4.nowhere}/32 via ${v4.pod2} dev ${second.peer}`,
      `route add ${v6.nowhere}/128 via ${v6.pod2} dev ${second.peer}`,
      ...[v4.pod, v6.pod].map((a) => `neigh add ${a} lladdr ${MAC.main.pod} dev ${main.peer} nud permanent`),
      ...[v4.pod2, v6.pod2].map((a) => `neigh add ${a} lladdr ${MAC.second.pod} dev ${second.peer} nud permanent`),
    ]);
  }

  /** Starts endpoint.py with these listeners (NAME/MODE/HOST/PORT) and waits until they listen. */
  async serve(side: Side, who: Who, specs: readonly string[], caps: readonly string[] = []): Promise<Server> {
    const child = execa(
      'ip',
      ['netns', 'exec', this.ns(side).name, ...runAs(who, caps), PYTHON, '-u', ENDPOINT, 'serve', ...specs],
      SERVER_OPTIONS,
    );
    const server = new Server(`${side} server ${specs.join(' ')}`, child);
    this.servers.push(server);
    await server.ready();
    return server;
  }

  /**
   * Connects from a side as someone and returns the normalized reply (`NAME orig=… src=IP`),
   * or `NO-REPLY <reason>`.
   */
  async connect(
    side: Side,
    who: Who,
    proto: 'tcp' | 'udp',
    host: string,
    port: number,
    bind?: string,
  ): Promise<string> {
    const result = await execa(
      'ip',
      [
        'netns',
        'exec',
        this.ns(side).name,
        ...runAs(who),
        PYTHON,
        ENDPOINT,
        'connect',
        proto,
        host,
        String(port),
        ...(bind ? ['--bind', bind] : []),
        '--timeout',
        String(CLIENT_TIMEOUT_S),
      ],
      { reject: false, timeout: PROCESS_TIMEOUT_MS, stdin: 'ignore' },
    );
    if (result.timedOut) return `NO-REPLY client killed after ${PROCESS_TIMEOUT_MS} ms`;
    if (result.exitCode !== 0) throw new Error(`client failed (${result.exitCode}): ${String(result.stderr)}`);
    return normalizeReply(String(result.stdout).trim());
  }

  /** Applies the rules into the pod namespace with the built CLI. */
  async applyTool(args: readonly string[], backend: Backend, ipv6: boolean) {
    return runTool([
      ...args,
      `--enable-inbound-ipv6=${ipv6}`,
      ...backendArgs(backend),
      '--network-namespace',
      this.pod.path,
    ]);
  }

  async stopServers(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((s) => s.stop()));
  }
}

async function batch(ns: Namespace, commands: readonly string[]): Promise<void> {
  const result = await execa('ip', ['-n', ns.name, '-batch', '-'], {
    input: `${commands.join('\n')}\n`,
    reject: false,
  });
  if (result.exitCode !== 0) throw new Error(`ip -n ${ns.name} -batch failed: ${String(result.stderr)}`);
}

let pairs = 0;

/** A fresh pod/peer pair for one test; servers are stopped and both namespaces deleted after. */
export async function withNamespacePair<T>(label: string, fn: (pair: Pair) => Promise<T>): Promise<T> {
  return withNamespace(`${label}-pod`, (pod) =>
    withNamespace(`${label}-peer`, async (peer) => {
      const pair = new Pair(pod, peer, ++pairs);
      try {
        await pair.setUp();
        return await fn(pair);
      } finally {
        await pair.stopServers();
      }
    }),
  );
}

/**
 * The standard cast: in the pod the proxy (uid/gid 1337) on 15001, 15006 and 15053 and the
 * app (uid 1000) on 8080, 9090, 15008 and pod-ip:53; in the peer the external servers and
 * the resolver. In TPROXY mode 15006 is a transparent listener (the proxy gets NET_ADMIN, as
 * Istio's does in that mode).
 */
export async function startStandardServers(
  pair: Pair,
  mode: Mode,
): Promise<{ proxy: Server; app: Server; peer: Server }> {
  const both = (name: string, kind: string, port: number, hosts = [NET.ipv4.any, NET.ipv6.any]) =>
    hosts.map((h) => `${name}/${kind}/${h}/${port}`);
  const [proxy, app, peer] = await Promise.all([
    pair.serve(
      'pod',
      PROXY,
      [
        ...both('proxy15001', 'redirect', 15001),
        ...both('proxy15006', mode === 'TPROXY' ? 'tproxy' : 'redirect', 15006),
        // Istio's DNS proxy listens on localhost, where nat REDIRECT from OUTPUT sends packets.
        ...both('dns15053', 'redirect', 15053, [NET.ipv4.loopback, NET.ipv6.loopback]),
        ...both('dns15053', 'udp', 15053, [NET.ipv4.loopback, NET.ipv6.loopback]),
      ],
      mode === 'TPROXY' ? ['net_admin'] : [],
    ),
    pair.serve('pod', APP, [
      ...both('app', 'plain', 8080),
      ...both('app', 'plain', 9090),
      ...both('tunnel15008', 'plain', 15008),
      ...both('app53', 'plain', 53, [NET.ipv4.pod, NET.ipv6.pod]),
    ]),
    pair.serve('peer', ROOT, [
      ...both('external', 'plain', 80),
      ...both('external', 'plain', 8443),
      ...both('resolver', 'plain', 53),
      // UDP bound per address, so that a reply leaves from the address the query went to.
      ...both('resolver', 'udp', 53, [NET.ipv4.peer, NET.ipv4.ext, NET.ipv6.peer, NET.ipv6.ext]),
    ]),
  ]);
  return { proxy, app, peer };
}
