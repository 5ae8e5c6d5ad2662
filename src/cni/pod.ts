/**
 * What the plugin knows of the pod without the Kubernetes API: the annotations the runtime
 * passes (containerd's `io.kubernetes.cri.pod-annotations` runtime config), the pod's name and
 * namespace from CNI_ARGS, and what the injector's `sidecar.istio.io/status` annotation lists
 * (which init containers and containers it wrote). The `istio-proxy` env is the network
 * config's `proxy_env`, and its runAsUser/runAsGroup are unknown (so 1337/1337, as for an
 * injected REDIRECT pod). Labels are not passed: only the inject annotation is seen.
 */
import { ANNOTATION } from '../pod/annotations.js';
import type { PodContainer, PodView } from '../pod/kube.js';
import { type NetConf, POD_ANNOTATIONS_CAPABILITY } from './protocol.js';

/** `K=V;K=V` → record (CNI_ARGS). */
export function parseCniArgs(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

/** The container names the injector's status annotation lists, per kind. */
function injectedContainers(status: string | undefined): { init: string[]; regular: string[] } {
  if (status === undefined) return { init: [], regular: [] };
  try {
    const parsed = JSON.parse(status) as { initContainers?: unknown; containers?: unknown };
    const names = (list: unknown) =>
      Array.isArray(list) ? list.filter((n): n is string => typeof n === 'string') : [];
    return { init: names(parsed.initContainers), regular: names(parsed.containers) };
  } catch {
    return { init: [], regular: [] };
  }
}

/** The pod as the plugin can see it; undefined without Kubernetes pod arguments (§4.1 step 2). */
export function podFromCni(conf: NetConf, cniArgs: Readonly<Record<string, string>>): PodView | undefined {
  const name = cniArgs.K8S_POD_NAME;
  const namespace = cniArgs.K8S_POD_NAMESPACE;
  if (!name || !namespace) return undefined;
  const annotations = conf.runtimeConfig?.[POD_ANNOTATIONS_CAPABILITY] ?? {};
  const listed = injectedContainers(annotations[ANNOTATION.status]);
  const container = (containerName: string): PodContainer =>
    containerName === 'istio-proxy'
      ? { name: containerName, args: ['proxy', 'sidecar'], env: conf.proxy_env ?? {} }
      : { name: containerName, env: {} };
  return {
    kind: 'Pod',
    name,
    namespace,
    annotations,
    labels: {},
    hostNetwork: false,
    containers: listed.regular.map(container),
    initContainers: listed.init.map(container),
  };
}
