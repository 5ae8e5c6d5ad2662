/**
 * The chained CNI plugin: one CNI call (environment and stdin) in, the spec's result or error
 * object and an exit code out. ADD programs the pod's namespace with the CNI path's
 * configuration (src/pod/cni.ts) and passes `prevResult` through; CHECK compares the live
 * rules with that plan; DEL removes them (and succeeds when the namespace is gone); VERSION
 * lists the versions spoken. The configuration goes through the same flag parsing as a
 * command line, so a run from here is a run of `istio-iptables` with those flags (with
 * `native_nftables: true`, `--native-nftables`; with `lock_timeout`, `--lock-timeout`).
 */
import { formatIssue, isConfigError } from '../errors.js';
import type { HostFacts } from '../config/derive.js';
import { deriveSettings } from '../config/derive.js';
import { resolveSettings } from '../config/settings.js';
import { toCaptureConfig } from '../config/to-capture-config.js';
import { flagsOf } from '../pod/flags.js';
import { cniCapture, DEFAULT_EXCLUDED_NAMESPACES } from '../pod/cni.js';
import { type CaptureDeps, captureRun } from './backends.js';
import { readConf } from './netconf.js';
import { parseCniArgs, podFromCni } from './pod.js';
import { CNI_ERROR, CniError, type PluginLogLevel, SUPPORTED_VERSIONS } from './protocol.js';
import { failed, ok, type PluginOutput } from './result.js';

/** What a CNI call may do to the machine; the real ones are in real-deps.ts, tests bring their own. */
export interface PluginDeps extends CaptureDeps {
  hostFacts(networkNamespace: string): Promise<HostFacts>;
  /** Whether the namespace file still exists (DEL succeeds when it does not). */
  namespaceExists(path: string): boolean;
  /** Writes the dry-run transcript (DRY_RUN_FILE_PATH). */
  writeFile(path: string, text: string): void;
}

export interface PluginCall {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: string;
  /** stderr, one line at a time. */
  readonly log: (line: string) => void;
}

/** Env-only settings read from the plugin's own environment (ISTIO_POD_TO_CAPTURE §4.6). */
const PROCESS_ENV_SETTINGS = [
  'ISTIO_OUTBOUND_OWNER_GROUPS',
  'ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE',
  'ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR',
];

const LEVELS: readonly PluginLogLevel[] = ['debug', 'info', 'warn', 'error', 'none'];

function requireEnv(env: PluginCall['env'], names: readonly string[]): void {
  const missing = names.filter((name) => !env[name]);
  if (missing.length > 0)
    throw new CniError(
      CNI_ERROR.invalidEnvironment,
      `missing environment variable${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
    );
}

/** Runs one CNI call; never throws. */
export async function runPlugin(call: PluginCall, deps: PluginDeps): Promise<PluginOutput> {
  let cniVersion = '1.0.0';
  /** Set once DEL's network config is known good: from then on, bad pod settings do not fail it. */
  let deleting = false;
  try {
    const command = call.env.CNI_COMMAND;
    if (command === 'VERSION') {
      const asked = /"cniVersion"\s*:\s*"([^"]*)"/.exec(call.stdin)?.[1];
      return ok({ cniVersion: asked || cniVersion, supportedVersions: SUPPORTED_VERSIONS });
    }
    if (command !== 'ADD' && command !== 'DEL' && command !== 'CHECK')
      throw new CniError(
        CNI_ERROR.invalidEnvironment,
        `CNI_COMMAND must be ADD, DEL, CHECK or VERSION, not "${command ?? ''}"`,
      );
    const conf = readConf(call.stdin);
    cniVersion = conf.cniVersion;
    const level = LEVELS.indexOf(conf.plugin_log_level ?? 'info');
    const log = (at: PluginLogLevel, line: string) => {
      if (LEVELS.indexOf(at) >= level && level < LEVELS.indexOf('none'))
        call.log(`istio-iptables-cni ${command}: ${line}`);
    };
    requireEnv(
      call.env,
      command === 'DEL' ? ['CNI_CONTAINERID', 'CNI_IFNAME'] : ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_NETNS'],
    );
    if (command !== 'DEL' && conf.prevResult === undefined)
      throw new CniError(
        CNI_ERROR.invalidNetworkConfig,
        'no prevResult: this plugin is chained after a primary plugin',
      );
    const passThrough = command === 'ADD' ? ok({ cniVersion, ...conf.prevResult }) : { stdout: '', exitCode: 0 };
    const netns = call.env.CNI_NETNS ?? '';
    deleting = command === 'DEL';
    if (command === 'DEL' && (netns === '' || !deps.namespaceExists(netns))) {
      log('info', 'the network namespace is gone: nothing to remove');
      return passThrough;
    }
    const pod = podFromCni(conf, parseCniArgs(call.env.CNI_ARGS));
    const decision = pod
      ? cniCapture(pod, {
          excludeNamespaces: conf.exclude_namespaces ?? DEFAULT_EXCLUDED_NAMESPACES,
          ...(conf.pod_namespace ? { agentNamespace: conf.pod_namespace } : {}),
          nativeNftables: conf.native_nftables === true,
        })
      : ({
          kind: 'skip',
          reason: 'no Kubernetes pod arguments (K8S_POD_NAME, K8S_POD_NAMESPACE) in CNI_ARGS',
        } as const);
    const who = pod ? `pod ${pod.namespace}/${pod.name}` : 'the container';
    if (decision.kind === 'skip') {
      log('info', `${who}: passed over: ${decision.reason}`);
      return passThrough;
    }
    for (const warning of decision.warnings) log('warn', `warning: ${warning}`);
    const transcript = call.env.DRY_RUN_FILE_PATH;
    const argv = [
      ...decision.args,
      '--network-namespace',
      netns,
      ...(conf.force_iptables_binary ? ['--force-iptables-binary', conf.force_iptables_binary] : []),
      ...(conf.lock_timeout !== undefined ? ['--lock-timeout', conf.lock_timeout] : []),
      // DEL cleans both families whatever the pod's addresses (they may be gone already).
      ...(command === 'DEL' ? ['--cleanup-only', '--enable-inbound-ipv6'] : []),
      // §4.2: upstream's plugin dry-runs when its environment names a transcript file.
      ...(transcript ? ['--dry-run'] : []),
    ];
    log('debug', `${who}: istio-iptables ${JSON.stringify(argv)}`);
    const env = Object.fromEntries(
      PROCESS_ENV_SETTINGS.flatMap((name) => (call.env[name] === undefined ? [] : [[name, call.env[name]]])),
    );
    // The same settings the flag parser gives for that command line, resolved as a run does.
    const resolved = resolveSettings({ flags: flagsOf(argv), env });
    const derived = await deriveSettings(resolved.settings, env, await deps.hostFacts(netns));
    const parsed = toCaptureConfig(derived.settings, resolved.issues);
    if (derived.error) throw derived.error;
    for (const warning of parsed.warnings) log('warn', `warning: ${warning}`);
    const run = await captureRun(parsed, deps);
    if (transcript) {
      if (command === 'CHECK') return passThrough;
      try {
        deps.writeFile(transcript, run.transcript());
      } catch (error) {
        throw new CniError(
          CNI_ERROR.ioFailure,
          `cannot write DRY_RUN_FILE_PATH ${transcript}`,
          (error as Error).message,
        );
      }
      log('info', `${who}: dry run: the transcript is in ${transcript}; nothing applied`);
      return passThrough;
    }
    if (command === 'CHECK') {
      const problems = await run.check();
      if (problems.length > 0)
        throw new CniError(
          CNI_ERROR.rulesNotInPlace,
          `${who}: the capture rules are not in place`,
          problems.join('; '),
        );
      return passThrough;
    }
    await run.apply((line) => log('info', `${who}: ${line}`));
    return passThrough;
  } catch (error) {
    // The ADD failed on the same settings, so nothing of ours was applied; a failing DEL would
    // only be retried by the runtime for ever, keeping the pod from terminating.
    if (deleting && isConfigError(error)) {
      call.log(
        `istio-iptables-cni DEL: invalid pod settings, so nothing was applied: ${error.issues.map(formatIssue).join('; ')}`,
      );
      return { stdout: '', exitCode: 0 };
    }
    return failed(cniVersion, error);
  }
}
