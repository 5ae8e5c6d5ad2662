/**
 * The CNI protocol as this plugin speaks it (CNI specification 1.0.0): the network
 * configuration on stdin (with the plugin's own settings), the result passed through, the
 * error object, and the spec's error codes. NETCONF_SCHEMA is compiled ahead of time into
 * generated/validate-netconf.js (`npm run generate:validator`), as `--config`'s schema is.
 */

/** The versions this plugin accepts in `cniVersion` (results from 0.3.0 on carry `prevResult`). */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;

/** The runtime config key containerd fills with the pod's annotations when the plugin declares the capability. */
export const POD_ANNOTATIONS_CAPABILITY = 'io.kubernetes.cri.pod-annotations';

export type PluginLogLevel = 'debug' | 'info' | 'warn' | 'error' | 'none';

/** The network configuration this plugin reads (the conflist entry, as the runtime passes it). */
export interface NetConf {
  readonly cniVersion: string;
  readonly name: string;
  readonly type: string;
  /** The previous plugin's result, passed through unchanged. */
  readonly prevResult?: Record<string, unknown>;
  readonly capabilities?: Readonly<Record<string, boolean>>;
  readonly runtimeConfig?: { readonly [POD_ANNOTATIONS_CAPABILITY]?: Readonly<Record<string, string>> };
  /** Upstream's `plugin_log_level`: what this plugin writes on stderr. Default `info`. */
  readonly plugin_log_level?: PluginLogLevel;
  /** Namespaces whose pods are never programmed. Default `["kube-system"]`. */
  readonly exclude_namespaces?: readonly string[];
  /** The node agent's namespace: its own `istio-cni-node-*` pods are passed over. */
  readonly pod_namespace?: string;
  /** Upstream's rule-manager switch: `true` programs Istio's native nftables tables (`--native-nftables`). */
  readonly native_nftables?: boolean;
  /**
   * This plugin's: how long ADD, CHECK and DEL wait for the pod namespace's lock, a Go duration
   * as `--lock-timeout` takes (`30s`, `1500ms`; `0`: do not wait). Default `30s`.
   */
  readonly lock_timeout?: string;
  /** This plugin's: skip backend detection, as `--force-iptables-binary` does. */
  readonly force_iptables_binary?: 'legacy' | 'nft';
  /**
   * This plugin's: stands in for the `istio-proxy` container's env, which upstream fetches from
   * the Kubernetes API (set the mesh's proxyMetadata here, e.g. ISTIO_META_DNS_CAPTURE).
   */
  readonly proxy_env?: Readonly<Record<string, string>>;
}

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;

/**
 * The shape of NetConf. Unknown keys are allowed (upstream's conflist carries more, e.g.
 * `kubernetes`, `ambient_enabled`); the keys read here must have their type.
 */
export const NETCONF_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://istio-iptables-ts/cni-netconf.schema.json',
  title: 'istio-iptables-cni network configuration',
  type: 'object',
  required: ['cniVersion', 'name', 'type'],
  properties: {
    cniVersion: { type: 'string' },
    name: { type: 'string', minLength: 1 },
    type: { type: 'string', minLength: 1 },
    prevResult: { type: 'object' },
    capabilities: { type: 'object', additionalProperties: { type: 'boolean' } },
    runtimeConfig: { type: 'object', properties: { [POD_ANNOTATIONS_CAPABILITY]: stringMap } },
    plugin_log_level: { enum: ['debug', 'info', 'warn', 'error', 'none'] },
    exclude_namespaces: { type: 'array', items: { type: 'string' } },
    pod_namespace: { type: 'string' },
    native_nftables: { type: 'boolean' },
    force_iptables_binary: { enum: ['legacy', 'nft'] },
    lock_timeout: { type: 'string' },
    proxy_env: stringMap,
  },
} as const;

/** The spec's well-known error codes, and this plugin's own (100 and up). */
export const CNI_ERROR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidNetworkConfig: 7,
  tryAgainLater: 11,
  /** The pod's annotations (or the capture they make) are invalid: upstream fails the ADD. */
  invalidPodConfig: 100,
  /** Applying, verifying or removing the rules failed. */
  captureFailed: 101,
  /** CHECK: the pod's rules are not (all) in place. */
  rulesNotInPlace: 102,
} as const;

/** The spec's error object, written on stdout with a non-zero exit. */
export interface CniErrorResult {
  readonly cniVersion: string;
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}

/** A failure the plugin reports as the spec's error object. */
export class CniError extends Error {
  override name = 'CniError';
  constructor(
    readonly code: number,
    message: string,
    readonly details?: string,
  ) {
    super(message);
  }
}
