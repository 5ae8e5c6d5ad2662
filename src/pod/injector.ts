/**
 * The sidecar injector's path (ISTIO_POD_TO_CAPTURE §3): whether a pod is injected, the
 * `istio-init` (or, with CNI, `istio-validation`) container's args token by token and its
 * env, and what the injection leaves for the CNI plugin (§3.9 annotations, the `istio-proxy`
 * container's env and ids). Upstream's quirks are copied, not fixed (§8).
 */
import { ConfigError, type Issue } from '../errors.js';
import { ANNOTATION, checkAnnotations, goBool, INJECTOR_CHECKS, injectOptOut } from './annotations.js';
import { findContainer, type PodContainer, type PodView } from './kube.js';
import { effectiveProxyConfig, type InjectorValues, type MeshSettings, type ProxySettings } from './mesh.js';

/** The capture init container the injector writes. */
export interface InitContainer {
  readonly name: 'istio-init' | 'istio-validation';
  /** Starting with `istio-iptables` (pilot-agent's sub-command), empty values kept. */
  readonly args: readonly string[];
  /** The effective proxy metadata, sorted by name; empty when there is none. */
  readonly env: Readonly<Record<string, string>>;
}

export type Injection =
  | { readonly kind: 'not-injected'; readonly reason: string }
  | {
      readonly kind: 'injected';
      readonly mode: string;
      /** Absent for interceptionMode NONE: no capture container at all. */
      readonly initContainer?: InitContainer;
      /** The pod as the CNI plugin later reads it (§3.9 annotations, the injected istio-proxy). */
      readonly pod: PodView;
    };

/** Why the injector would not inject the pod at all, or undefined when it would. */
function notInjected(pod: PodView): string | undefined {
  if (pod.hostNetwork) return 'host-network pods are not injected';
  if (injectOptOut(pod.labels, pod.annotations)) return 'sidecar.istio.io/inject is false';
  const templates = pod.annotations[ANNOTATION.templates];
  if (
    templates !== undefined &&
    !templates
      .split(',')
      .map((t) => t.trim())
      .includes('sidecar')
  )
    return `inject.istio.io/templates is "${templates}": only the sidecar template writes a capture init container`;
  return undefined;
}

/**
 * §3.3: the status port merged into the inbound exclude list. A list that already holds the
 * port exactly is returned untouched (spaces and empty items kept); otherwise it is rebuilt
 * trimmed with the port appended.
 */
export function mergeStatusPort(statusPort: string, excludes: string): string {
  const port = statusPort.trim();
  if (port === '' || /^0+$/.test(port)) return excludes;
  const kept: string[] = [];
  for (const item of excludes.split(',')) {
    if (item === port) return excludes;
    if (item.trim() !== '') kept.push(item.trim());
  }
  return [...kept, port].join(',');
}

const sorted = (record: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Names of containers a previous injection wrote, from its status annotation. */
function previouslyInjected(pod: PodView): Set<string> {
  const status = pod.annotations[ANNOTATION.status];
  if (status === undefined) return new Set();
  try {
    const parsed = JSON.parse(status) as { initContainers?: unknown; containers?: unknown };
    return new Set(
      [parsed.initContainers, parsed.containers].flatMap((list) => (Array.isArray(list) ? list.map(String) : [])),
    );
  } catch {
    return new Set();
  }
}

interface Resolved {
  readonly mode: string;
  readonly proxyConfig: ProxySettings;
  readonly excludeInbound: string;
}

function istioInitArgs(pod: PodView, mesh: MeshSettings, values: InjectorValues, resolved: Resolved): string[] {
  const annotation = (name: string): string | undefined => pod.annotations[name];
  const orValue = (name: string, value: string) => annotation(name) ?? value;
  const { mode } = resolved;
  const args = ['istio-iptables', '-p', mesh.proxyListenPort, '-z', mesh.proxyInboundListenPort];
  // Step 1 of §3.4: TPROXY writes the literal 1337; the OpenShift namespace UID is not modelled.
  args.push('-u', '1337', '-m', mode);
  args.push('-i', orValue(ANNOTATION.includeOutboundIPRanges, values.includeIPRanges));
  args.push('-x', orValue(ANNOTATION.excludeOutboundIPRanges, values.excludeIPRanges));
  args.push('-b', orValue(ANNOTATION.includeInboundPorts, values.includeInboundPorts));
  args.push('-d', resolved.excludeInbound === '' ? '15090,15021' : `15090,15021,${resolved.excludeInbound}`);
  const optional = (flag: string, name: string, value: string) => {
    const given = annotation(name);
    if (given !== undefined) args.push(flag, given);
    else if (value !== '') args.push(flag, value);
  };
  optional('-q', ANNOTATION.includeOutboundPorts, values.includeOutboundPorts);
  optional('-o', ANNOTATION.excludeOutboundPorts, values.excludeOutboundPorts);
  const virtual = annotation(ANNOTATION.rerouteVirtualInterfaces) ?? annotation(ANNOTATION.kubevirtInterfaces);
  if (virtual !== undefined) args.push('-k', virtual);
  const excluded = annotation(ANNOTATION.excludeInterfaces);
  if (excluded !== undefined) args.push('-c', excluded);
  args.push(`--log_output_level=${annotation(ANNOTATION.agentLogLevel) ?? values.logLevel}`);
  if (values.logAsJson) args.push('--log_as_json');
  if (values.cniEnabled) args.push('--run-validation', '--skip-rule-apply');
  else if (values.forceApplyIptables) args.push('--force-apply');
  if (values.nativeNftables) args.push('--native-nftables');
  return args;
}

/** §3.9: what the injector writes for the CNI plugin, over the pod's own annotations. */
function cniAnnotations(
  pod: PodView,
  values: InjectorValues,
  resolved: Resolved,
  initName?: string,
): Record<string, string> {
  const own = pod.annotations;
  const written: Record<string, string> = { [ANNOTATION.interceptionMode]: resolved.mode };
  const ifNonEmpty = (name: string, value: string) => {
    if (value !== '') written[name] = value;
  };
  ifNonEmpty(ANNOTATION.includeOutboundIPRanges, own[ANNOTATION.includeOutboundIPRanges] ?? values.includeIPRanges);
  ifNonEmpty(ANNOTATION.excludeOutboundIPRanges, own[ANNOTATION.excludeOutboundIPRanges] ?? values.excludeIPRanges);
  written[ANNOTATION.includeInboundPorts] = own[ANNOTATION.includeInboundPorts] ?? values.includeInboundPorts;
  written[ANNOTATION.excludeInboundPorts] = resolved.excludeInbound;
  for (const [name, value] of [
    [ANNOTATION.includeOutboundPorts, values.includeOutboundPorts],
    [ANNOTATION.excludeOutboundPorts, values.excludeOutboundPorts],
  ] as const) {
    const given = own[name];
    if (given !== undefined || value !== '') written[name] = given ?? value;
  }
  written[ANNOTATION.status] = JSON.stringify({
    initContainers: initName ? [initName] : [],
    containers: ['istio-proxy'],
  });
  return { ...own, ...written };
}

/** The injected `istio-proxy`: proxy metadata as env, and the ids of §3.4's table. */
function injectedProxy(user: PodContainer | undefined, resolved: Resolved, tproxy: boolean): PodContainer {
  const metadata = resolved.proxyConfig.proxyMetadata;
  // §8.12: trace logging still makes the template run the proxy as root.
  const traceAsRoot = goBool(metadata.IPTABLES_TRACE_LOGGING) === true;
  const runAsUser = tproxy ? 0 : (user?.runAsUser ?? (traceAsRoot ? 0 : 1337));
  const runAsGroup = user?.runAsGroup ?? 1337;
  return {
    name: 'istio-proxy',
    args: user?.args ?? ['proxy', 'sidecar'],
    env: { ...sorted(metadata), ...user?.env },
    runAsUser,
    runAsGroup,
  };
}

/** What the injector does with a pod, given the mesh config and the chart's values. */
export function inject(pod: PodView, mesh: MeshSettings, values: InjectorValues): Injection {
  const skip = notInjected(pod);
  if (skip) return { kind: 'not-injected', reason: skip };
  const issues: Issue[] = checkAnnotations(pod.annotations, INJECTOR_CHECKS);
  const proxyConfig = effectiveProxyConfig(
    mesh,
    pod.annotations[ANNOTATION.proxyConfig],
    ANNOTATION.proxyConfig,
    issues,
  );
  if (issues.length > 0) throw new ConfigError(issues);
  const mode = pod.annotations[ANNOTATION.interceptionMode] ?? proxyConfig.interceptionMode ?? 'REDIRECT';
  const statusPort = pod.annotations[ANNOTATION.statusPort] ?? values.statusPort;
  const excludes = pod.annotations[ANNOTATION.excludeInboundPorts] ?? values.excludeInboundPorts;
  const resolved: Resolved = { mode, proxyConfig, excludeInbound: mergeStatusPort(statusPort, excludes) };
  const tproxy = proxyConfig.interceptionMode === 'TPROXY' || mode === 'TPROXY';
  const userProxy = findContainer(pod, 'istio-proxy');
  const name = values.cniEnabled ? 'istio-validation' : 'istio-init';
  // §3.11: on re-injection, the containers the previous injection wrote are removed first.
  const removed = previouslyInjected(pod);
  let initContainer: InitContainer | undefined;
  if (mode !== 'NONE') {
    const userInit = pod.initContainers.find((c) => c.name === name && !removed.has(c.name));
    // §3.11: a user's container of the same name replaces the template's args.
    const args = [...(userInit?.args ?? istioInitArgs(pod, mesh, values, resolved))];
    // §3.4 step 2: the user's istio-proxy runAsUser replaces the first -u value, TPROXY included (§8.1).
    const uid = userProxy?.runAsUser;
    const overrides = userProxy?.runAsUser !== undefined || userProxy?.runAsGroup !== undefined;
    const at = args.indexOf('-u');
    if (overrides && uid !== undefined && uid !== 0 && at >= 0 && at + 1 < args.length) args[at + 1] = String(uid);
    initContainer = { name, args, env: sorted(proxyConfig.proxyMetadata) };
  }
  const others = (list: readonly PodContainer[]) =>
    list.filter((c) => c.name !== 'istio-proxy' && c.name !== name && !removed.has(c.name));
  const injected: PodView = {
    ...pod,
    annotations: values.cniEnabled ? cniAnnotations(pod, values, resolved, initContainer?.name) : pod.annotations,
    containers: [...others(pod.containers), injectedProxy(userProxy, resolved, tproxy)],
    initContainers: [
      ...(initContainer ? [{ name: initContainer.name, env: initContainer.env }] : []),
      ...others(pod.initContainers),
    ],
  };
  return { kind: 'injected', mode, ...(initContainer ? { initContainer } : {}), pod: injected };
}
