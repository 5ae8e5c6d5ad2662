/**
 * The mesh's settings that reach a pod's capture: the istiod chart's Helm values, the mesh
 * config and the effective ProxyConfig (mesh `defaultConfig`, then the pod's
 * `proxy.istio.io/config` annotation, `proxyMetadata` merged key by key, as
 * `istioctl kube-inject` does). Absent inputs take upstream's defaults.
 */
import { parse } from 'yaml';
import type { Issue } from '../errors.js';

/** The Helm values the injector reads (ISTIO_POD_TO_CAPTURE §2.2), already as strings. */
export interface InjectorValues {
  readonly includeIPRanges: string;
  readonly excludeIPRanges: string;
  readonly includeInboundPorts: string;
  readonly excludeInboundPorts: string;
  readonly includeOutboundPorts: string;
  readonly excludeOutboundPorts: string;
  readonly statusPort: string;
  readonly logLevel: string;
  readonly logAsJson: boolean;
  readonly forceApplyIptables: boolean;
  readonly nativeNftables: boolean;
  readonly cniEnabled: boolean;
}

/** ProxyConfig, as far as capture is concerned. */
export interface ProxySettings {
  readonly interceptionMode?: string;
  readonly proxyMetadata: Readonly<Record<string, string>>;
}

/** Mesh config, as far as capture is concerned. */
export interface MeshSettings {
  readonly proxyListenPort: string;
  readonly proxyInboundListenPort: string;
  readonly defaultConfig: ProxySettings;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const at = (value: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), value);

/** Helm renders scalars into the template as text: `15020` and `"15020"` write the same. */
function text(value: unknown, fallback: string): string {
  return value === undefined || value === null ? fallback : String(value);
}

function flag(value: unknown): boolean {
  return value === true || value === 'true';
}

/** The values file (or `{}`): defaults of the istiod chart where a value is absent. */
export function readValues(document: unknown): InjectorValues {
  const proxy = (key: string, fallback: string) => text(at(document, `global.proxy.${key}`), fallback);
  return {
    includeIPRanges: proxy('includeIPRanges', '*'),
    excludeIPRanges: proxy('excludeIPRanges', ''),
    includeInboundPorts: proxy('includeInboundPorts', '*'),
    excludeInboundPorts: proxy('excludeInboundPorts', ''),
    includeOutboundPorts: proxy('includeOutboundPorts', ''),
    excludeOutboundPorts: proxy('excludeOutboundPorts', ''),
    statusPort: proxy('statusPort', '15020'),
    logLevel: text(at(document, 'global.logging.level'), 'default:info'),
    logAsJson: flag(at(document, 'global.logAsJson')),
    forceApplyIptables: flag(at(document, 'global.proxy_init.forceApplyIptables')),
    nativeNftables: flag(at(document, 'global.nativeNftables')),
    cniEnabled: flag(at(document, 'pilot.cni.enabled')),
  };
}

const MODES = ['REDIRECT', 'TPROXY', 'NONE'];

/** A ProxyConfig document (mesh `defaultConfig` or the annotation); problems go to `issues`. */
function readProxyConfig(value: unknown, source: string, issues: Issue[]): Partial<ProxySettings> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) {
    issues.push({ source, value: JSON.stringify(value), message: 'expected a ProxyConfig (a map)' });
    return {};
  }
  const out: { interceptionMode?: string; proxyMetadata?: Record<string, string> } = {};
  const mode = value.interceptionMode;
  if (mode !== undefined) {
    if (typeof mode === 'string' && MODES.includes(mode)) out.interceptionMode = mode;
    else issues.push({ source, value: String(mode), message: 'interceptionMode must be REDIRECT, TPROXY or NONE' });
  }
  const metadata = value.proxyMetadata;
  if (metadata !== undefined && metadata !== null) {
    if (!isObject(metadata) || Object.values(metadata).some((v) => typeof v !== 'string'))
      issues.push({ source, value: JSON.stringify(metadata), message: 'proxyMetadata must map names to strings' });
    else out.proxyMetadata = metadata as Record<string, string>;
  }
  return out;
}

/** The mesh config file (or `{}`): `proxyListenPort` 0 or absent means 15001, as upstream writes it. */
export function readMesh(document: unknown, issues: Issue[]): MeshSettings {
  const port = (key: string, fallback: string) => {
    const value = at(document, key);
    return value === undefined || value === null || value === 0 || value === '0' ? fallback : String(value);
  };
  const defaults = readProxyConfig(at(document, 'defaultConfig'), 'mesh config defaultConfig', issues);
  return {
    proxyListenPort: port('proxyListenPort', '15001'),
    proxyInboundListenPort: port('proxyInboundListenPort', '15006'),
    defaultConfig: { proxyMetadata: {}, ...defaults },
  };
}

/**
 * The effective ProxyConfig: the pod's `proxy.istio.io/config` annotation over the mesh's
 * `defaultConfig`. An annotation that does not parse is an issue naming it (upstream refuses
 * the injection).
 */
export function effectiveProxyConfig(
  mesh: MeshSettings,
  annotation: string | undefined,
  annotationName: string,
  issues: Issue[],
): ProxySettings {
  if (annotation === undefined) return mesh.defaultConfig;
  let document: unknown;
  try {
    document = parse(annotation);
  } catch (error) {
    issues.push({ source: `annotation ${annotationName}`, value: annotation, message: (error as Error).message });
    return mesh.defaultConfig;
  }
  const problems: Issue[] = [];
  const own = readProxyConfig(document ?? {}, `annotation ${annotationName}`, problems);
  // Named by the whole annotation value, as the user wrote it.
  issues.push(...problems.map((problem) => ({ ...problem, value: annotation })));
  if (problems.length > 0) return mesh.defaultConfig;
  return {
    ...mesh.defaultConfig,
    ...own,
    proxyMetadata: { ...mesh.defaultConfig.proxyMetadata, ...own.proxyMetadata },
  };
}
