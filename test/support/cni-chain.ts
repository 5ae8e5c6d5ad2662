/**
 * A CNI chain as a container runtime runs it, on real plugins: Debian's
 * containernetworking-plugins (loopback, bridge with host-local IPAM) and then ours, each
 * called with the CNI_* environment and its network config on stdin, the primary plugin's
 * result handed on as `prevResult`. Everything runs inside a "node" namespace made for the
 * test (`ip netns exec NODE …`), so the bridge and its routes live there, never in the root
 * namespace; host-local keeps its leases in a temporary directory.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelSkipReason, REPO, sh, withNamespace, type Namespace } from './kernel.js';

export const CNI_BIN_DIR = '/usr/lib/cni';
export const PLUGIN = `${REPO}bin/istio-iptables-cni`;
/** The bridge's network (documentation range): gateway .1 on the bridge in the node namespace. */
export const SUBNET = { cidr: '203.0.113.0/24', gateway: '203.0.113.1' };

export interface PluginRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout as JSON, when it is JSON. */
  readonly json?: Record<string, unknown>;
}

export interface PodRef {
  readonly ns: Namespace;
  readonly name: string;
  readonly namespace: string;
  readonly containerId: string;
}

export class Chain {
  private readonly dataDir = mkdtempSync(join(tmpdir(), 'iit-cni-ipam-'));
  readonly network: string;

  constructor(
    readonly node: Namespace,
    id: string,
  ) {
    this.network = `iit-${id}`;
  }

  /** One plugin call, run in the node namespace as a runtime runs it. */
  async exec(binary: string, command: string, pod: PodRef, conf: object, netns = pod.ns.path): Promise<PluginRun> {
    const env = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: pod.containerId,
      CNI_NETNS: netns,
      CNI_IFNAME: binary.endsWith('/loopback') ? 'lo' : 'eth0',
      CNI_PATH: CNI_BIN_DIR,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}`,
    };
    const result = await sh('ip', ['netns', 'exec', this.node.name, binary], {
      input: JSON.stringify(conf),
      env,
      reject: false,
    });
    let json: Record<string, unknown> | undefined;
    try {
      json = result.stdout.trim() ? (JSON.parse(result.stdout) as Record<string, unknown>) : undefined;
    } catch {
      json = undefined;
    }
    return { ...result, ...(json ? { json } : {}) };
  }

  /** The primary plugin's config: a bridge in the node namespace, host-local addresses. */
  bridgeConf(): object {
    return {
      cniVersion: '1.0.0',
      name: this.network,
      type: 'bridge',
      bridge: 'iitbr0',
      isGateway: true,
      ipMasq: false,
      ipam: {
        type: 'host-local',
        subnet: SUBNET.cidr,
        gateway: SUBNET.gateway,
        dataDir: this.dataDir,
        routes: [{ dst: '0.0.0.0/0' }],
      },
    };
  }

  /** Our plugin's config as libcni builds it from the conflist: prevResult and the runtime config added. */
  ourConf(prevResult: object | undefined, annotations: Record<string, string> | undefined, extra: object = {}): object {
    return {
      cniVersion: '1.0.0',
      name: this.network,
      type: 'istio-iptables-cni',
      capabilities: { 'io.kubernetes.cri.pod-annotations': true },
      plugin_log_level: 'debug',
      ...(annotations ? { runtimeConfig: { 'io.kubernetes.cri.pod-annotations': annotations } } : {}),
      ...(prevResult ? { prevResult } : {}),
      ...extra,
    };
  }

  /** loopback ADD, then bridge ADD; returns the bridge's result (our prevResult) and the pod's address. */
  async addPrimary(pod: PodRef): Promise<{ result: Record<string, unknown>; address: string }> {
    const lo = await this.exec(`${CNI_BIN_DIR}/loopback`, 'ADD', pod, {
      cniVersion: '1.0.0',
      name: 'lo',
      type: 'loopback',
    });
    if (lo.code !== 0) throw new Error(`loopback ADD failed: ${lo.stdout} ${lo.stderr}`);
    const bridge = await this.exec(`${CNI_BIN_DIR}/bridge`, 'ADD', pod, this.bridgeConf());
    if (bridge.code !== 0 || !bridge.json) throw new Error(`bridge ADD failed: ${bridge.stdout} ${bridge.stderr}`);
    const ips = bridge.json.ips as { address: string }[];
    const address = ips[0]?.address.split('/')[0];
    if (!address) throw new Error(`bridge ADD gave no address: ${bridge.stdout}`);
    return { result: bridge.json, address };
  }

  async delPrimary(pod: PodRef, prevResult?: object): Promise<void> {
    await this.exec(`${CNI_BIN_DIR}/bridge`, 'DEL', pod, {
      ...this.bridgeConf(),
      ...(prevResult ? { prevResult } : {}),
    });
  }

  dispose(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

const STATUS = '{"initContainers":["istio-validation"],"containers":["istio-proxy"]}';
/** What the injector writes on a default pod with CNI enabled (ISTIO_POD_TO_CAPTURE §3.9). */
export const INJECTED: Readonly<Record<string, string>> = {
  'sidecar.istio.io/status': STATUS,
  'sidecar.istio.io/interceptionMode': 'REDIRECT',
  'traffic.sidecar.istio.io/includeOutboundIPRanges': '*',
  'traffic.sidecar.istio.io/includeInboundPorts': '*',
  'traffic.sidecar.istio.io/excludeInboundPorts': '15020',
};
export const UNANNOTATED: Readonly<Record<string, string>> = { 'kubernetes.io/config.source': 'api' };

const plugins = ['bridge', 'host-local', 'loopback'].map((p) => `${CNI_BIN_DIR}/${p}`);
const missing = plugins.filter((p) => !existsSync(p));
/** Why a chain cannot run here (no root, or no containernetworking-plugins), or undefined. */
export const chainSkipReason =
  kernelSkipReason ??
  (missing.length > 0
    ? `containernetworking-plugins are not installed (${missing.join(', ')}); .ci/run installs them`
    : undefined);
if (chainSkipReason && !kernelSkipReason && process.env.CI === 'true')
  throw new Error(`CI=true but ${chainSkipReason}`);

let pods = 0;
/** How many pods were made so far (a fresh number for each traffic Pair). */
export const podCount = (): number => pods;
export const podRef = (ns: Namespace, name: string): PodRef => ({
  ns,
  name,
  namespace: 'default',
  containerId: `c${++pods}-${process.pid}`,
});

/** A node namespace with a chain, and two pod namespaces; everything deleted afterwards. */
export async function withChain(
  label: string,
  fn: (chain: Chain, a: Namespace, b: Namespace) => Promise<void>,
): Promise<void> {
  await withNamespace(`${label}-node`, (node) =>
    withNamespace(`${label}-a`, (a) =>
      withNamespace(`${label}-b`, async (b) => {
        await node.exec('ip', ['link', 'set', 'lo', 'up']);
        const chain = new Chain(node, `${label}-${process.pid}`);
        try {
          await fn(chain, a, b);
        } finally {
          chain.dispose();
        }
      }),
    ),
  );
}
