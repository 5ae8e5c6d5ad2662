/**
 * The annotations that change a pod's capture, and upstream's validation of their values.
 * The two paths validate differently (ISTIO_POD_TO_CAPTURE §2.1): the injector refuses `*` in
 * exclude-port lists and `NONE` is a valid mode there; the CNI accepts `*` in every port list
 * and refuses `NONE`. Items are checked trimmed, but values are used as written.
 */
import type { Issue } from '../errors.js';
import { parseCidr } from '../model/network.js';
import { parseBoolean } from '../config/settings.js';

export const ANNOTATION = {
  interceptionMode: 'sidecar.istio.io/interceptionMode',
  includeOutboundIPRanges: 'traffic.sidecar.istio.io/includeOutboundIPRanges',
  excludeOutboundIPRanges: 'traffic.sidecar.istio.io/excludeOutboundIPRanges',
  includeInboundPorts: 'traffic.sidecar.istio.io/includeInboundPorts',
  excludeInboundPorts: 'traffic.sidecar.istio.io/excludeInboundPorts',
  includeOutboundPorts: 'traffic.sidecar.istio.io/includeOutboundPorts',
  excludeOutboundPorts: 'traffic.sidecar.istio.io/excludeOutboundPorts',
  rerouteVirtualInterfaces: 'istio.io/reroute-virtual-interfaces',
  kubevirtInterfaces: 'traffic.sidecar.istio.io/kubevirtInterfaces',
  excludeInterfaces: 'traffic.sidecar.istio.io/excludeInterfaces',
  statusPort: 'status.sidecar.istio.io/port',
  agentLogLevel: 'sidecar.istio.io/agentLogLevel',
  proxyConfig: 'proxy.istio.io/config',
  status: 'sidecar.istio.io/status',
  inject: 'sidecar.istio.io/inject',
  templates: 'inject.istio.io/templates',
} as const;

/** A validator: undefined when the value is fine, else why not (upstream's wording). */
export type Check = (value: string) => string | undefined;

function portItems(value: string): string | undefined {
  const text = value.trim();
  if (text === '') return undefined;
  for (const item of text.split(',')) {
    const port = item.trim();
    if (!/^\d+$/.test(port) || Number(port) > 65535) return `failed parsing port '${item}'`;
  }
  return undefined;
}

function cidrItems(value: string): string | undefined {
  if (value === '') return undefined;
  for (const item of value.split(',')) {
    const cidr = parseCidr(item);
    if (typeof cidr === 'string') return `failed parsing cidr '${item}': ${cidr}`;
  }
  return undefined;
}

const INTERFACE = /^[A-Za-z][A-Za-z0-9_.-]*$/;

function interfaceItems(value: string): string | undefined {
  if (value === '') return undefined;
  for (const item of value.split(',')) {
    const name = item.trim();
    if (name === '' || name.length > 15 || !INTERFACE.test(name)) return `invalid interface name '${item}'`;
  }
  return undefined;
}

const named =
  (parameter: string, check: Check): Check =>
  (value) => {
    const problem = check(value);
    return problem === undefined ? undefined : `${parameter} invalid: ${problem}`;
  };

const starOr =
  (check: Check): Check =>
  (value) =>
    value === '*' ? undefined : check(value);

const modes =
  (allowed: readonly string[]): Check =>
  (value) =>
    allowed.includes(value) ? undefined : `interceptionMode invalid, expected one of ${allowed.join(', ')}`;

/** What the injector validates (all of the pod's annotations, before anything is rendered). */
export const INJECTOR_CHECKS: Readonly<Record<string, Check>> = {
  [ANNOTATION.interceptionMode]: modes(['REDIRECT', 'TPROXY', 'NONE']),
  [ANNOTATION.includeOutboundIPRanges]: named('includeIPRanges', starOr(cidrItems)),
  [ANNOTATION.excludeOutboundIPRanges]: named('excludeIPRanges', cidrItems),
  [ANNOTATION.includeInboundPorts]: named('includeInboundPorts', starOr(portItems)),
  [ANNOTATION.excludeInboundPorts]: named('excludeInboundPorts', portItems),
  [ANNOTATION.excludeOutboundPorts]: named('excludeOutboundPorts', portItems),
  [ANNOTATION.rerouteVirtualInterfaces]: named('rerouteVirtualInterfaces', interfaceItems),
  [ANNOTATION.kubevirtInterfaces]: named('kubevirtInterfaces', interfaceItems),
  [ANNOTATION.excludeInterfaces]: named('excludeInterfaces', interfaceItems),
  [ANNOTATION.statusPort]: named('statusPort', (value) =>
    /^\d+$/.test(value.trim()) && Number(value.trim()) <= 65535 ? undefined : `failed parsing port '${value}'`,
  ),
};

/** What the CNI plugin validates, for the annotations it reads. */
export const CNI_CHECKS: Readonly<Record<string, Check>> = {
  [ANNOTATION.interceptionMode]: modes(['REDIRECT', 'TPROXY']),
  [ANNOTATION.includeOutboundIPRanges]: named('includeIPRanges', starOr(cidrItems)),
  [ANNOTATION.excludeOutboundIPRanges]: named('excludeIPRanges', cidrItems),
  [ANNOTATION.includeInboundPorts]: named('includeInboundPorts', starOr(portItems)),
  [ANNOTATION.excludeInboundPorts]: named('excludeInboundPorts', starOr(portItems)),
  [ANNOTATION.includeOutboundPorts]: named('includeOutboundPorts', starOr(portItems)),
  [ANNOTATION.excludeOutboundPorts]: named('excludeOutboundPorts', starOr(portItems)),
  [ANNOTATION.rerouteVirtualInterfaces]: named('rerouteVirtualInterfaces', interfaceItems),
  [ANNOTATION.kubevirtInterfaces]: named('kubevirtInterfaces', interfaceItems),
  [ANNOTATION.excludeInterfaces]: named('excludeInterfaces', interfaceItems),
};

/** Every annotation of `annotations` that fails its check, as issues naming the annotation. */
export function checkAnnotations(
  annotations: Readonly<Record<string, string>>,
  checks: Readonly<Record<string, Check>>,
): Issue[] {
  return Object.entries(checks).flatMap(([name, check]) => {
    const value = annotations[name];
    const problem = value === undefined ? undefined : check(value);
    return problem === undefined || value === undefined
      ? []
      : [{ source: `annotation ${name}`, value, message: problem }];
  });
}

/** Go's strconv.ParseBool, as upstream reads bool annotations, labels and env; undefined when it does not parse. */
export function goBool(text: string | undefined): boolean | undefined {
  return text === undefined || text === '' ? undefined : parseBoolean(text);
}

/** `sidecar.istio.io/inject` from the label (which wins) or the annotation: false means opt out. */
export function injectOptOut(
  labels: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>>,
): boolean {
  const value = labels[ANNOTATION.inject] ?? annotations[ANNOTATION.inject];
  return goBool(value) === false;
}
