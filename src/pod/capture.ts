/**
 * A pod → the `istio-iptables` command line and environment one of Istio's two paths would
 * run it with: the injector's `istio-init` (or `istio-validation`) args and env, or the CNI
 * plugin's configuration as its equivalent command line. The result goes through the same
 * flag parsing as any command line, so nothing downstream knows it came from a pod.
 */
import { cniCapture, DEFAULT_EXCLUDED_NAMESPACES, type CniPodOptions } from './cni.js';
import { inject } from './injector.js';
import { ANNOTATION } from './annotations.js';
import type { PodView } from './kube.js';
import type { InjectorValues, MeshSettings } from './mesh.js';

export type CapturePath = 'injector' | 'cni';

export interface PodCaptureInput {
  readonly pod: PodView;
  readonly path: CapturePath;
  readonly mesh: MeshSettings;
  readonly values: InjectorValues;
  /** Injector path: the `istio-validation` container's args (CNI enabled) rather than `istio-init`'s. */
  readonly validation?: boolean;
  readonly cni?: CniPodOptions;
}

export type PodCapture =
  | { readonly kind: 'skip'; readonly reason: string }
  | {
      readonly kind: 'capture';
      /** Who would run it: `istio-init`, `istio-validation` or `istio-cni`. */
      readonly runner: 'istio-init' | 'istio-validation' | 'istio-cni';
      readonly args: readonly string[];
      /** Environment of that run: the init container's proxy metadata (the CNI's: none). */
      readonly env: Readonly<Record<string, string>>;
      readonly warnings: readonly string[];
    };

/** What the chosen path does with the pod. Bad annotations throw a ConfigError naming them. */
export function podCapture(input: PodCaptureInput): PodCapture {
  const { pod, path, mesh } = input;
  if (path === 'injector') {
    const values = input.validation ? { ...input.values, cniEnabled: true } : input.values;
    const injection = inject(pod, mesh, values);
    if (injection.kind === 'not-injected') return { kind: 'skip', reason: `not injected: ${injection.reason}` };
    const init = injection.initContainer;
    if (!init)
      return {
        kind: 'skip',
        reason: `interceptionMode is ${injection.mode}: the injector writes no capture init container`,
      };
    return { kind: 'capture', runner: init.name, args: init.args, env: init.env, warnings: [] };
  }
  // A pod that was not injected yet is injected first (CNI enabled), as the cluster would do
  // before the plugin ever sees it; an injected pod is read as it is.
  let injected = pod;
  if (pod.annotations[ANNOTATION.status] === undefined) {
    const injection = inject(pod, mesh, { ...input.values, cniEnabled: true });
    if (injection.kind === 'not-injected') return { kind: 'skip', reason: `not injected: ${injection.reason}` };
    injected = injection.pod;
  }
  // The istio-cni chart's own `global.nativeNftables` (§4.7) has the istiod chart's name: one
  // values file stands for both here.
  const decision = cniCapture(injected, {
    ...(input.cni ?? { excludeNamespaces: DEFAULT_EXCLUDED_NAMESPACES }),
    nativeNftables: input.values.nativeNftables,
  });
  if (decision.kind === 'skip')
    return { kind: 'skip', reason: `the CNI plugin passes over the pod: ${decision.reason}` };
  return { kind: 'capture', runner: 'istio-cni', args: decision.args, env: {}, warnings: decision.warnings };
}
