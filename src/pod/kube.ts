/**
 * The parts of a Kubernetes object that decide a pod's capture, read into plain values: the
 * pod (or a workload's pod template), its annotations and labels, host networking, and each
 * container's name, args, literal env values and securityContext ids. Nothing else of the
 * object is looked at.
 */
import { ConfigError, type Issue } from '../errors.js';

/** One container, as far as capture is concerned. */
export interface PodContainer {
  readonly name: string;
  readonly args?: readonly string[];
  /** Literal `value`s by name; a `valueFrom` entry reads as `""` (upstream reads it so). */
  readonly env: Readonly<Record<string, string>>;
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
}

/** A pod as both paths read it. */
export interface PodView {
  readonly kind: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly hostNetwork: boolean;
  readonly containers: readonly PodContainer[];
  readonly initContainers: readonly PodContainer[];
}

/** Workload kinds whose `spec.template` is the pod; CronJob nests one level deeper. */
const TEMPLATE_KINDS = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'ReplicationController',
  'Job',
]);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Whether a parsed document carries a pod (or a pod template) this module can read. */
export function carriesPod(document: unknown): boolean {
  if (!isObject(document)) return false;
  const kind = document.kind;
  return kind === 'Pod' || kind === 'CronJob' || (typeof kind === 'string' && TEMPLATE_KINDS.has(kind));
}

function podObject(document: Record<string, unknown>): { metadata: unknown; spec: unknown } {
  const at = (value: unknown, ...path: string[]): unknown =>
    path.reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), value);
  if (document.kind === 'Pod') return { metadata: document.metadata, spec: document.spec };
  const template =
    document.kind === 'CronJob'
      ? at(document, 'spec', 'jobTemplate', 'spec', 'template')
      : at(document, 'spec', 'template');
  return { metadata: at(template, 'metadata'), spec: at(template, 'spec') };
}

function stringMap(value: unknown, where: string, issues: Issue[]): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) {
    issues.push({ source: where, value: JSON.stringify(value), message: 'expected a map of strings' });
    return {};
  }
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string') out[key] = item;
    // The API server refuses non-string values here; quoting them is the user's fix.
    else
      issues.push({ source: `${where} ${key}`, value: JSON.stringify(item), message: 'expected a string (quote it)' });
  }
  return out;
}

function readId(value: unknown, where: string, issues: Issue[]): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  issues.push({ source: where, value: JSON.stringify(value), message: 'expected a non-negative integer' });
  return undefined;
}

function readContainer(value: unknown, where: string, issues: Issue[]): PodContainer | undefined {
  if (!isObject(value) || typeof value.name !== 'string') {
    issues.push({ source: where, value: JSON.stringify(value) ?? '', message: 'expected a container with a name' });
    return undefined;
  }
  const here = `${where} ${value.name}`;
  const env: Record<string, string> = {};
  for (const entry of Array.isArray(value.env) ? value.env : []) {
    if (isObject(entry) && typeof entry.name === 'string')
      env[entry.name] = typeof entry.value === 'string' ? entry.value : '';
  }
  const security = isObject(value.securityContext) ? value.securityContext : {};
  const runAsUser = readId(security.runAsUser, `${here} securityContext.runAsUser`, issues);
  const runAsGroup = readId(security.runAsGroup, `${here} securityContext.runAsGroup`, issues);
  const args = Array.isArray(value.args) ? value.args.map(String) : undefined;
  return {
    name: value.name,
    env,
    ...(args ? { args } : {}),
    ...(runAsUser === undefined ? {} : { runAsUser }),
    ...(runAsGroup === undefined ? {} : { runAsGroup }),
  };
}

function readContainers(value: unknown, where: string, issues: Issue[]): PodContainer[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    issues.push({ source: where, value: JSON.stringify(value), message: 'expected a list of containers' });
    return [];
  }
  return value.flatMap((item) => readContainer(item, where, issues) ?? []);
}

/** Reads a Pod or a workload's pod template; every problem is reported at once. */
export function readPod(document: unknown): PodView {
  if (!carriesPod(document))
    throw new ConfigError([
      {
        source: 'pod',
        value: isObject(document) ? String(document.kind) : typeof document,
        message:
          'expected a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job or CronJob',
      },
    ]);
  const object = document as Record<string, unknown>;
  const { metadata, spec } = podObject(object);
  const issues: Issue[] = [];
  const meta = isObject(metadata) ? metadata : {};
  const podSpec = isObject(spec) ? spec : {};
  const outer = isObject(object.metadata) ? object.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : typeof outer.name === 'string' ? outer.name : undefined;
  const namespace =
    typeof meta.namespace === 'string'
      ? meta.namespace
      : typeof outer.namespace === 'string'
        ? outer.namespace
        : undefined;
  const view: PodView = {
    kind: String(object.kind),
    ...(name === undefined ? {} : { name }),
    ...(namespace === undefined ? {} : { namespace }),
    annotations: stringMap(meta.annotations, 'annotation', issues),
    labels: stringMap(meta.labels, 'label', issues),
    hostNetwork: podSpec.hostNetwork === true,
    containers: readContainers(podSpec.containers, 'container', issues),
    initContainers: readContainers(podSpec.initContainers, 'init container', issues),
  };
  if (issues.length > 0) throw new ConfigError(issues);
  return view;
}

/** The container of that name, regular or init (upstream looks in both). */
export function findContainer(pod: PodView, name: string): PodContainer | undefined {
  return pod.containers.find((c) => c.name === name) ?? pod.initContainers.find((c) => c.name === name);
}
