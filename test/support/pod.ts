/** Support for the `pod` sub-command's tests: pods as JSON text, and main() run in-process. */
import type { HostFacts } from '../../src/config/derive.js';
import { main } from '../../src/cli/main.js';
import type { CliResult } from './cli.js';

export interface PodSpec {
  readonly kind?: 'Pod' | 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'ReplicaSet' | 'Job' | 'CronJob' | 'List';
  readonly name?: string;
  readonly namespace?: string;
  readonly annotations?: Record<string, string>;
  readonly labels?: Record<string, string>;
  readonly hostNetwork?: boolean;
  readonly containers?: readonly object[];
  readonly initContainers?: readonly object[];
}

/** The pod (or workload) as a JSON document, which YAML readers take too. */
export function podDoc(spec: PodSpec): string {
  const metadata = {
    ...(spec.name ? { name: spec.name } : {}),
    ...(spec.namespace ? { namespace: spec.namespace } : {}),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
    ...(spec.labels ? { labels: spec.labels } : {}),
  };
  const podSpec = {
    ...(spec.hostNetwork ? { hostNetwork: true } : {}),
    containers: [{ name: 'app', image: 'app' }, ...(spec.containers ?? [])],
    ...(spec.initContainers ? { initContainers: spec.initContainers } : {}),
  };
  const kind = spec.kind ?? 'Pod';
  const template = { metadata, spec: podSpec };
  const document =
    kind === 'Pod'
      ? { apiVersion: 'v1', kind, metadata, spec: podSpec }
      : kind === 'CronJob'
        ? { kind, metadata: { name: 'w' }, spec: { jobTemplate: { spec: { template } } } }
        : kind === 'List'
          ? { kind, items: [{ kind: 'Pod', metadata, spec: podSpec }] }
          : { kind, metadata: { name: 'w' }, spec: { template } };
  return JSON.stringify(document);
}

/** The injector's default istio-init args (§3.14 #1). */
export const ISTIO_INIT_DEFAULT: readonly string[] = [
  'istio-iptables',
  '-p',
  '15001',
  '-z',
  '15006',
  '-u',
  '1337',
  '-m',
  'REDIRECT',
  '-i',
  '*',
  '-x',
  '',
  '-b',
  '*',
  '-d',
  '15090,15021,15020',
  '--log_output_level=default:info',
];

/** Host facts of a pod with one IPv4 address; files are not read. */
export const IPV4_POD: HostFacts = {
  interfaceAddresses: async () => ['127.0.0.1', '192.0.2.2'],
  readTextFile: (path) => Promise.reject(new Error(`test: no file ${path}`)),
  lookupUserId: async () => undefined,
};

/**
 * Runs `istio-iptables pod - ARGS` with the pod on stdin (a spec or raw text) and `files`
 * readable by name; without `apply`, so nothing can be applied.
 */
export async function runPod(
  argv: readonly string[],
  pod: PodSpec | string,
  files: Readonly<Record<string, string>> = {},
  hostFacts: HostFacts = IPV4_POD,
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(
    ['pod', '-', ...argv],
    {},
    {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
      readStdin: async () => (typeof pod === 'string' ? pod : podDoc(pod)),
      readFile: async (path) => {
        const text = files[path];
        if (text === undefined) throw new Error(`ENOENT: no such file '${path}'`);
        return text;
      },
    },
    { hostFacts: async () => hostFacts },
  );
  return { code, stdout, stderr };
}
