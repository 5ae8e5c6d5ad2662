/**
 * The Istio CNI plugin's path in sidecar mode (ISTIO_POD_TO_CAPTURE §4): whether the plugin
 * programs a pod (§4.1), and the configuration it builds from the pod's annotations and its
 * `istio-proxy` container (§4.2), written as the equivalent `istio-iptables` command line
 * (§4.8). Mesh config and Helm values are not read: they reach this path only through the
 * annotations the injector wrote.
 */
import { ConfigError } from '../errors.js';
import { ANNOTATION, checkAnnotations, CNI_CHECKS, goBool, injectOptOut } from './annotations.js';
import { findContainer, type PodView } from './kube.js';

/** The plugin's own settings that decide whether a pod is programmed. */
export interface CniPodOptions {
  /** Namespaces whose pods are never programmed (chart `excludeNamespaces`). */
  readonly excludeNamespaces: readonly string[];
  /** The namespace the plugin's node agent runs in; its own pods are passed over. */
  readonly agentNamespace?: string;
  /** The rule manager is native nftables (the plugin's `native_nftables`, §4.7): `--native-nftables`. */
  readonly nativeNftables?: boolean;
}

/** The chart's default excluded namespaces. */
export const DEFAULT_EXCLUDED_NAMESPACES: readonly string[] = ['kube-system'];

export type CniDecision =
  | { readonly kind: 'skip'; readonly reason: string }
  | {
      readonly kind: 'capture';
      /** The equivalent command line, without `--network-namespace` (the caller knows the namespace). */
      readonly args: readonly string[];
      readonly warnings: readonly string[];
    };

/** §4.1, steps 1, 3, 4 and 6–11: why the plugin passes over the pod, or undefined when it programs it. */
function passOver(pod: PodView, options: CniPodOptions): string | undefined {
  if (pod.name?.startsWith('istio-cni-node-') && pod.namespace === options.agentNamespace)
    return 'the pod is the Istio CNI node agent itself';
  if (pod.namespace !== undefined && options.excludeNamespaces.includes(pod.namespace))
    return `namespace ${pod.namespace} is excluded`;
  if (pod.hostNetwork) return 'host-network pods get no CNI call';
  if (findContainer(pod, 'istio-init'))
    return 'the pod has an istio-init container: the init container owns the capture';
  const proxy = findContainer(pod, 'istio-proxy');
  if (proxy && goBool(proxy.env.DISABLE_ENVOY) === true) return 'istio-proxy has DISABLE_ENVOY=true';
  if (!proxy) return 'the pod has no istio-proxy container';
  const [first, type] = proxy.args ?? [];
  if (first === 'proxy' && type !== undefined && type !== 'sidecar')
    return `istio-proxy runs as a ${type}, not a sidecar`;
  if (injectOptOut(pod.labels, pod.annotations)) return 'sidecar.istio.io/inject is false';
  if (pod.annotations[ANNOTATION.status] === undefined)
    return 'the pod has no sidecar.istio.io/status annotation (not injected)';
  return undefined;
}

/**
 * §4.3: the annotation (or 15020), trimmed, then `15020,15021,15090`, exact-string
 * duplicates removed; items are not trimmed.
 */
export function cniInboundExcludes(annotation: string | undefined): string {
  let text = (annotation ?? '15020').trim();
  if (text !== '' && !text.endsWith(',')) text += ',';
  text += '15020,15021,15090';
  return [...new Set(text.split(','))].join(',');
}

/** A non-zero id, else 1337: the CNI always sets both, independently (§4.4). */
const idOr1337 = (id: number | undefined): string => (id === undefined || id === 0 ? '1337' : String(id));

/** What the CNI plugin does with a pod; annotation errors throw a ConfigError naming them. */
export function cniCapture(pod: PodView, options: CniPodOptions): CniDecision {
  const reason = passOver(pod, options);
  if (reason) return { kind: 'skip', reason };
  const issues = checkAnnotations(pod.annotations, CNI_CHECKS);
  if (issues.length > 0) throw new ConfigError(issues);
  const annotation = (name: string) => pod.annotations[name];
  const proxy = findContainer(pod, 'istio-proxy');
  const env = proxy?.env ?? {};
  const warnings: string[] = [];
  const envFlag = (name: string): boolean => {
    const value = env[name];
    const parsed = goBool(value);
    if (value !== undefined && value !== '' && parsed === undefined)
      warnings.push(`istio-proxy env ${name}="${value}" is not a boolean: read as false`);
    return parsed === true;
  };
  const args = ['-p', '15001', '-z', '15006', '-e', '15008'];
  args.push('-u', idOr1337(proxy?.runAsUser), '-g', idOr1337(proxy?.runAsGroup));
  args.push('-m', annotation(ANNOTATION.interceptionMode) ?? 'REDIRECT');
  args.push('-b', annotation(ANNOTATION.includeInboundPorts) ?? '*');
  args.push('-d', cniInboundExcludes(annotation(ANNOTATION.excludeInboundPorts)));
  args.push('-i', annotation(ANNOTATION.includeOutboundIPRanges) ?? '*');
  const ifNonEmpty = (flag: string, value: string | undefined) => {
    if (value !== undefined && value !== '') args.push(flag, value);
  };
  ifNonEmpty('-x', annotation(ANNOTATION.excludeOutboundIPRanges));
  ifNonEmpty('-q', annotation(ANNOTATION.includeOutboundPorts));
  args.push('-o', annotation(ANNOTATION.excludeOutboundPorts) ?? '15020');
  ifNonEmpty('-k', annotation(ANNOTATION.rerouteVirtualInterfaces) ?? annotation(ANNOTATION.kubevirtInterfaces));
  ifNonEmpty('-c', annotation(ANNOTATION.excludeInterfaces));
  args.push('-t', '1337', '-r', '133', '--iptables-probe-port', '15002', '--probe-timeout', '5s', '--cni-mode');
  // §4.5: one variable turns on both DNS settings; only the ISTIO_/INVALID_ names are read.
  if (envFlag('ISTIO_META_DNS_CAPTURE')) args.push('--redirect-dns', '--capture-all-dns');
  if (envFlag('INVALID_DROP')) args.push('--drop-invalid');
  if (envFlag('ISTIO_DUAL_STACK')) args.push('--dual-stack');
  // §4.7: the same record either way; the pod has no say in the rule manager.
  if (options.nativeNftables) args.push('--native-nftables');
  return { kind: 'capture', args, warnings };
}
