/**
 * `istio-iptables pod FILE|-`: what Istio would run for a pod, and running it. Loaded only
 * when the first argument is `pod` (with the YAML library and the pod layer); a plain run
 * never loads it.
 */
import { ConfigError, type Issue } from '../../errors.js';
import { DEFAULT_EXCLUDED_NAMESPACES } from '../../pod/cni.js';
import { podCapture, type CapturePath } from '../../pod/capture.js';
import { parseDocuments, parseSettingsDocument, selectPod } from '../../pod/documents.js';
import { readMesh, readValues } from '../../pod/mesh.js';
import type { CliIo } from '../main.js';

export const POD_HELP = `Usage: istio-iptables pod FILE|- [options]

Computes the capture Istio gives a pod (a Pod, or a Deployment, StatefulSet, DaemonSet,
ReplicaSet, ReplicationController, Job or CronJob's pod template; YAML or JSON), then runs
it like any istio-iptables command line.

  --path injector|cni     whose logic applies: the sidecar injector's istio-init container
                          (default) or the Istio CNI plugin's
  --mesh-config FILE      the mesh config (defaultConfig included); default: upstream's
  --values FILE           the istiod chart's Helm values; default: upstream's (with
                          --path cni, global.nativeNftables stands for the istio-cni chart's)
  --index N               which pod of a multi-document file, counting from 0 (default 0)
  --print-args            print the argument list as one JSON array, run nothing
  --validation            with --path injector: the istio-validation container (CNI enabled)
  --dry-run               print the payload instead of applying it
  --network-namespace P   apply into that namespace (/var/run/netns/NAME or /proc/PID/ns/net)
  --help                  this text
`;

interface PodOptions {
  file?: string;
  path: CapturePath;
  meshConfig?: string;
  values?: string;
  index: number;
  printArgs: boolean;
  validation: boolean;
  dryRun: boolean;
  networkNamespace?: string;
  help: boolean;
}

const VALUE_FLAGS = new Set(['--path', '--mesh-config', '--values', '--index', '--network-namespace']);
const BOOLEAN_FLAGS = new Set(['--print-args', '--validation', '--dry-run', '--help']);

function parsePodArgs(argv: readonly string[]): PodOptions {
  const options: PodOptions = {
    path: 'injector',
    index: 0,
    printArgs: false,
    validation: false,
    dryRun: false,
    help: false,
  };
  const issues: Issue[] = [];
  const set = (name: string, value: string) => {
    switch (name) {
      case '--path':
        if (value === 'injector' || value === 'cni') options.path = value;
        else issues.push({ source: name, value, message: 'expected injector or cni' });
        break;
      case '--index':
        if (/^\d+$/.test(value)) options.index = Number(value);
        else issues.push({ source: name, value, message: 'expected a number (counting from 0)' });
        break;
      case '--mesh-config':
        options.meshConfig = value;
        break;
      case '--values':
        options.values = value;
        break;
      default:
        options.networkNamespace = value;
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    const [name = '', inline] =
      token.startsWith('--') && token.includes('=')
        ? [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)]
        : [token, undefined];
    if (VALUE_FLAGS.has(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) issues.push({ source: name, value: '', message: 'needs a value' });
      else set(name, value);
    } else if (BOOLEAN_FLAGS.has(name)) {
      if (inline !== undefined && inline !== 'true' && inline !== 'false')
        issues.push({ source: name, value: inline, message: 'expected true or false' });
      const on = inline !== 'false';
      if (name === '--print-args') options.printArgs = on;
      else if (name === '--validation') options.validation = on;
      else if (name === '--dry-run') options.dryRun = on;
      else options.help = on;
    } else if ((token === '-' || !token.startsWith('-')) && options.file === undefined) options.file = token;
    else
      issues.push({
        source: 'pod',
        value: token,
        message: token.startsWith('-') ? 'unknown option (see pod --help)' : 'only one input file',
      });
  }
  if (options.file === undefined && !options.help)
    issues.push({ source: 'pod', value: '', message: 'give the pod file, or - for stdin' });
  if (options.validation && options.path === 'cni')
    issues.push({ source: '--validation', value: 'true', message: 'only with --path injector' });
  if (issues.length > 0) throw new ConfigError(issues);
  return options;
}

async function readInput(io: CliIo, path: string, flag: string): Promise<string> {
  try {
    return path === '-' ? await io.readStdin() : await io.readFile(path);
  } catch (error) {
    throw new ConfigError([{ source: flag, value: path, message: `cannot read: ${(error as Error).message}` }]);
  }
}

/** Runs `istio-iptables` with argv and env, as the CLI does; returns the exit code. */
export type RunCommandLine = (argv: readonly string[], env: Readonly<Record<string, string>>) => Promise<number>;

export async function podCommand(argv: readonly string[], io: CliIo, run: RunCommandLine): Promise<number> {
  const options = parsePodArgs(argv);
  if (options.help) {
    io.stdout(POD_HELP);
    return 0;
  }
  const file = options.file as string;
  const documents = parseDocuments(await readInput(io, file, 'pod'), 'pod', file);
  const issues: Issue[] = [];
  const mesh = readMesh(
    options.meshConfig === undefined
      ? {}
      : parseSettingsDocument(
          await readInput(io, options.meshConfig, '--mesh-config'),
          '--mesh-config',
          options.meshConfig,
        ),
    issues,
  );
  const values = readValues(
    options.values === undefined
      ? {}
      : parseSettingsDocument(await readInput(io, options.values, '--values'), '--values', options.values),
  );
  if (issues.length > 0) throw new ConfigError(issues);
  const pod = selectPod(documents, options.index, file);
  const capture = podCapture({
    pod,
    path: options.path,
    mesh,
    values,
    validation: options.validation,
    cni: { excludeNamespaces: DEFAULT_EXCLUDED_NAMESPACES },
  });
  const name = `${pod.kind}${pod.name ? ` ${pod.namespace ? `${pod.namespace}/` : ''}${pod.name}` : ''}`;
  if (capture.kind === 'skip') {
    io.stderr(`${name}: nothing to program (${options.path} path): ${capture.reason}\n`);
    return 0;
  }
  for (const warning of capture.warnings) io.stderr(`warning: ${warning}\n`);
  if (options.printArgs) {
    // The CNI always names the pod's namespace; printed when the caller names one.
    const netns =
      capture.runner === 'istio-cni' && options.networkNamespace
        ? ['--network-namespace', options.networkNamespace]
        : [];
    io.stdout(`${JSON.stringify([...capture.args, ...netns])}\n`);
    return 0;
  }
  const extra = [
    ...(options.dryRun ? ['--dry-run'] : []),
    ...(options.networkNamespace ? ['--network-namespace', options.networkNamespace] : []),
  ];
  const env = Object.entries(capture.env)
    .map(([k, v]) => ` ${k}=${v}`)
    .join('');
  io.stderr(
    `${name}: ${capture.runner} runs istio-iptables ${JSON.stringify(capture.args)}${env ? ` with env${env}` : ''}\n`,
  );
  return run([...capture.args, ...extra], capture.env);
}
