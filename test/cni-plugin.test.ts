/**
 * The CNI plugin's protocol, in-process (runPlugin with recording deps, so nothing is
 * applied): VERSION, the spec's error objects for bad calls, which pods are passed over, what
 * reaches the capture run, and the generated network-config validator. The real chain is
 * test/cni-chain.kernel.test.ts.
 */
import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NETCONF_ORIGIN, NETCONF_VALIDATOR_PATH, validatorSource } from '../scripts/generate-validator.mjs';
import { validate } from '../src/cni/generated/validate-netconf.js';
import { runPlugin, type PluginDeps } from '../src/cni/plugin.js';
import { NETCONF_SCHEMA } from '../src/cni/protocol.js';
import { LockTimeoutError } from '../src/errors.js';
import type { ParsedConfig } from '../src/config/to-capture-config.js';
import { IPV4_POD } from './support/pod.js';

const STATUS = '{"initContainers":["istio-validation"],"containers":["istio-proxy"]}';
const PREV = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/x' }],
  ips: [{ address: '192.0.2.2/24' }],
};
const ENV = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c1',
  CNI_IFNAME: 'eth0',
  CNI_NETNS: '/var/run/netns/x',
  CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=c1',
};

function conf(annotations: Record<string, string> | undefined, extra: object = {}): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'istio-iptables-cni',
    capabilities: { 'io.kubernetes.cri.pod-annotations': true },
    prevResult: PREV,
    ...(annotations ? { runtimeConfig: { 'io.kubernetes.cri.pod-annotations': annotations } } : {}),
    ...extra,
  });
}

/** Deps that record what would be applied or checked; the namespace "exists" unless told. */
function recording(options: { exists?: boolean; problems?: string[]; failure?: Error } = {}) {
  const applied: ParsedConfig[] = [];
  const checked: string[] = [];
  /** Which rule manager each apply or check went to. */
  const managers: string[] = [];
  const written: Record<string, string> = {};
  const deps: PluginDeps = {
    hostFacts: async () => IPV4_POD,
    writeFile: (path, text) => {
      written[path] = text;
    },
    apply: async (_plan, parsed) => {
      if (options.failure) throw options.failure;
      managers.push('iptables');
      applied.push(parsed);
    },
    check: async (_plan, opts) => {
      if (options.failure) throw options.failure;
      managers.push('iptables');
      checked.push(opts.networkNamespace ?? '');
      return options.problems ?? [];
    },
    applyNftables: async (plan, parsed) => {
      if (options.failure) throw options.failure;
      managers.push(`nftables (${plan.tables.map((t) => t.name).join(', ')})`);
      applied.push(parsed);
    },
    checkNftables: async (_plan, parsed) => {
      if (options.failure) throw options.failure;
      managers.push('nftables');
      checked.push(parsed.options.networkNamespace ?? '');
      return options.problems ?? [];
    },
    namespaceExists: () => options.exists ?? true,
  };
  return { deps, applied, checked, written, managers };
}

async function call(env: Record<string, string>, stdin: string, deps = recording().deps) {
  const logs: string[] = [];
  const result = await runPlugin({ env, stdin, log: (line) => logs.push(line) }, deps);
  return { ...result, logs, json: result.stdout ? JSON.parse(result.stdout) : undefined };
}

describe('istio-iptables-cni: protocol', () => {
  it('VERSION lists the versions spoken', async () => {
    const result = await call({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
    expect(result).toMatchObject({
      exitCode: 0,
      json: { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] },
    });
  });

  it.each([
    ['stdin that is not JSON', ENV, 'not json', 6, /cannot decode/],
    [
      'a config without type',
      ENV,
      JSON.stringify({ cniVersion: '1.0.0', name: 'n' }),
      7,
      /invalid network configuration/,
    ],
    [
      'a wrongly typed plugin setting',
      ENV,
      conf({}, { exclude_namespaces: 'kube-system' }),
      7,
      /invalid network configuration/,
    ],
    ['an unknown log level', ENV, conf({}, { plugin_log_level: 'loud' }), 7, /invalid network configuration/],
    ['an unsupported cniVersion', ENV, conf({}, { cniVersion: '0.2.0' }), 1, /cniVersion 0.2.0 is not supported/],
    [
      'native_nftables not a boolean',
      ENV,
      conf({}, { native_nftables: 'yes' }),
      7,
      /invalid network configuration/,
      'native_nftables: must be boolean, not "yes"',
    ],
    [
      'lock_timeout not a duration',
      ENV,
      conf({}, { lock_timeout: '30 seconds' }),
      7,
      /invalid network configuration/,
      'lock_timeout: expected a duration such as 30s, 1500ms or 1m (0: do not wait), not "30 seconds"',
    ],
    [
      'lock_timeout a number',
      { ...ENV, CNI_COMMAND: 'DEL' },
      conf({}, { lock_timeout: 30 }),
      7,
      /invalid network configuration/,
      'lock_timeout: must be string, not 30',
    ],
    ['no CNI_NETNS on ADD', { ...ENV, CNI_NETNS: '' }, conf({}), 4, /CNI_NETNS/],
    ['an unknown CNI_COMMAND', { ...ENV, CNI_COMMAND: 'GC' }, conf({}), 4, /CNI_COMMAND/],
    ['no prevResult on ADD', ENV, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 't' }), 7, /no prevResult/],
  ])('%s: the spec error object, exit 1, nothing applied', async (_title, env, stdin, code, msg, details?: string) => {
    const { deps, applied } = recording();
    const result = await call(env, stdin, deps);
    expect(result.exitCode).toBe(1);
    expect(result.json).toMatchObject({ code, msg: expect.stringMatching(msg) });
    if (details) expect(result.json.details).toBe(details);
    expect(typeof result.json.cniVersion).toBe('string');
    expect(applied).toEqual([]);
  });

  it('a bad annotation fails the ADD with code 100 naming the annotation; nothing applied', async () => {
    const { deps, applied } = recording();
    const result = await call(
      ENV,
      conf({
        'sidecar.istio.io/status': STATUS,
        'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.0.0.0/8, 10.1.0.0/16',
      }),
      deps,
    );
    expect(result.exitCode).toBe(1);
    expect(result.json.code).toBe(100);
    expect(result.json.details).toContain(
      'annotation traffic.sidecar.istio.io/excludeOutboundIPRanges="10.0.0.0/8, 10.1.0.0/16"',
    );
    expect(applied).toEqual([]);
  });

  it('DEL with the same bad annotation succeeds (ADD applied nothing), and says why', async () => {
    const { deps, applied } = recording();
    const stdin = conf({ 'sidecar.istio.io/status': STATUS, 'sidecar.istio.io/interceptionMode': 'NONE' });
    const result = await call({ ...ENV, CNI_COMMAND: 'DEL' }, stdin, deps);
    expect(result).toMatchObject({ exitCode: 0, stdout: '' });
    expect(result.logs.join('\n')).toContain('invalid pod settings, so nothing was applied');
    expect(applied).toEqual([]);
    // A bad network config still fails a DEL.
    expect((await call({ ...ENV, CNI_COMMAND: 'DEL' }, '{}', deps)).json).toMatchObject({ code: 7 });
  });

  it('a * exclude-port annotation passes the CNI validation and fails as the flag it becomes (code 100)', async () => {
    const result = await call(
      ENV,
      conf({ 'sidecar.istio.io/status': STATUS, 'traffic.sidecar.istio.io/excludeInboundPorts': '*' }),
    );
    expect(result.json).toMatchObject({
      code: 100,
      details: expect.stringContaining('--istio-local-exclude-ports="*": expected a port'),
    });
  });
});

describe('istio-iptables-cni: which pods are programmed', () => {
  it.each([
    ['no annotations passed (capability not declared)', ENV, conf(undefined)],
    ['no sidecar.istio.io/status', ENV, conf({ 'traffic.sidecar.istio.io/includeInboundPorts': '80' })],
    [
      'an istio-init container (path A)',
      ENV,
      conf({ 'sidecar.istio.io/status': '{"initContainers":["istio-init"],"containers":["istio-proxy"]}' }),
    ],
    ['inject annotation false', ENV, conf({ 'sidecar.istio.io/status': STATUS, 'sidecar.istio.io/inject': 'false' })],
    [
      'an excluded namespace',
      { ...ENV, CNI_ARGS: 'K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=dns' },
      conf({ 'sidecar.istio.io/status': STATUS }),
    ],
    [
      'a namespace from exclude_namespaces',
      ENV,
      conf({ 'sidecar.istio.io/status': STATUS }, { exclude_namespaces: ['default'] }),
    ],
    [
      'the node agent itself',
      { ...ENV, CNI_ARGS: 'K8S_POD_NAMESPACE=istio-system;K8S_POD_NAME=istio-cni-node-abc' },
      conf({ 'sidecar.istio.io/status': STATUS }, { pod_namespace: 'istio-system' }),
    ],
    ['no Kubernetes pod arguments', { ...ENV, CNI_ARGS: '' }, conf({ 'sidecar.istio.io/status': STATUS })],
  ])('%s: ADD passes prevResult through unchanged and applies nothing', async (_title, env, stdin) => {
    const { deps, applied } = recording();
    const result = await call(env, stdin, deps);
    expect(result.exitCode).toBe(0);
    expect(result.json).toEqual(PREV);
    expect(applied).toEqual([]);
    expect(result.logs.join('\n')).toContain('passed over');
  });

  it('an injected pod: the CNI configuration of §4.2 into CNI_NETNS; prevResult passed through', async () => {
    const { deps, applied } = recording();
    const annotations = { 'sidecar.istio.io/status': STATUS, 'traffic.sidecar.istio.io/includeInboundPorts': '8080' };
    const result = await call(
      ENV,
      conf(annotations, { proxy_env: { ISTIO_META_DNS_CAPTURE: 'true' }, force_iptables_binary: 'legacy' }),
      deps,
    );
    expect(result).toMatchObject({ exitCode: 0, json: PREV });
    expect(applied).toHaveLength(1);
    const [parsed] = applied as [ParsedConfig];
    expect(parsed.options).toMatchObject({
      networkNamespace: '/var/run/netns/x',
      cniMode: true,
      iptables: 'legacy',
      cleanupOnly: false,
    });
    expect(parsed.config.inbound.ports).toEqual({ kind: 'only', items: [{ first: 8080, last: 8080, text: '8080' }] });
    expect(parsed.config.outbound.ports.exclude).toEqual([{ first: 15020, last: 15020, text: '15020' }]);
    expect(parsed.config.dns).toEqual({ mode: 'all' });
    expect(parsed.config.proxy).toEqual({ uids: ['1337'], gids: ['1337'] });
  });

  it('CHECK compares (code 102 when rules are missing); DEL cleans up, and succeeds for a namespace that is gone', async () => {
    const stdin = conf({ 'sidecar.istio.io/status': STATUS });
    const missing = recording({ problems: ['ipv4 (nft): none of the planned rules is live'] });
    const checkResult = await call({ ...ENV, CNI_COMMAND: 'CHECK' }, stdin, missing.deps);
    expect(checkResult.json).toMatchObject({ code: 102, details: 'ipv4 (nft): none of the planned rules is live' });
    expect(missing.applied).toEqual([]);
    const fine = recording();
    expect(await call({ ...ENV, CNI_COMMAND: 'CHECK' }, stdin, fine.deps)).toMatchObject({ exitCode: 0, stdout: '' });
    expect(fine.checked).toEqual(['/var/run/netns/x']);
    const del = recording();
    expect(await call({ ...ENV, CNI_COMMAND: 'DEL' }, stdin, del.deps)).toMatchObject({ exitCode: 0, stdout: '' });
    expect(del.applied.map((p) => p.options.cleanupOnly)).toEqual([true]);
    const gone = recording({ exists: false });
    expect(await call({ ...ENV, CNI_COMMAND: 'DEL' }, stdin, gone.deps)).toMatchObject({ exitCode: 0, stdout: '' });
    expect(await call({ ...ENV, CNI_COMMAND: 'DEL', CNI_NETNS: '' }, stdin, gone.deps)).toMatchObject({ exitCode: 0 });
    expect(gone.applied).toEqual([]);
  });

  it('DRY_RUN_FILE_PATH: the upstream transcript is written instead of applying (§4.2 DRY_RUN)', async () => {
    const { deps, applied, written } = recording();
    const env = { ...ENV, DRY_RUN_FILE_PATH: '/tmp/transcript.txt' };
    const result = await call(env, conf({ 'sidecar.istio.io/status': STATUS }), deps);
    expect(result).toMatchObject({ exitCode: 0, json: PREV });
    expect(applied).toEqual([]);
    expect(written['/tmp/transcript.txt']).toContain('-A ISTIO_OUTPUT -p tcp --dport 15020 -j RETURN');
    const failing = {
      ...deps,
      writeFile: () => {
        throw new Error('EACCES');
      },
    };
    expect((await call(env, conf({ 'sidecar.istio.io/status': STATUS }), failing)).json).toMatchObject({
      code: 5,
      details: 'EACCES',
    });
  });

  it('plugin_log_level filters stderr: none is silent, debug shows the command line', async () => {
    const stdin = (level: string) => conf({ 'sidecar.istio.io/status': STATUS }, { plugin_log_level: level });
    expect((await call(ENV, stdin('none'))).logs).toEqual([]);
    expect((await call(ENV, stdin('debug'))).logs.join('\n')).toContain(
      '"--cni-mode","--network-namespace","/var/run/netns/x"',
    );
    expect((await call(ENV, stdin('info'))).logs.join('\n')).not.toContain('--cni-mode');
  });
});

describe('istio-iptables-cni: native_nftables and lock_timeout', () => {
  const injected = conf({ 'sidecar.istio.io/status': STATUS }, { native_nftables: true });
  // REDIRECT without DNS capture plans the nat table only.
  const tables = 'nftables (istio-proxy-nat)';

  it('native_nftables: true: ADD, CHECK and DEL go to the nftables manager with the same CNI configuration', async () => {
    const add = recording();
    expect(await call(ENV, injected, add.deps)).toMatchObject({ exitCode: 0, json: PREV });
    expect(add.managers).toEqual([tables]);
    const [parsed] = add.applied as [ParsedConfig];
    expect(parsed.options).toMatchObject({ nativeNftables: true, cniMode: true, networkNamespace: '/var/run/netns/x' });
    expect(parsed.config.outbound.ports.exclude).toEqual([{ first: 15020, last: 15020, text: '15020' }]);

    const drifted = recording({ problems: ['nftables: istio-proxy-nat: table missing'] });
    const check = await call({ ...ENV, CNI_COMMAND: 'CHECK' }, injected, drifted.deps);
    expect(check.json).toMatchObject({ code: 102, details: 'nftables: istio-proxy-nat: table missing' });
    expect(drifted.managers).toEqual(['nftables']);

    const del = recording();
    expect(await call({ ...ENV, CNI_COMMAND: 'DEL' }, injected, del.deps)).toMatchObject({ exitCode: 0, stdout: '' });
    expect(del.managers).toEqual([tables]);
    expect(del.applied.map((p) => p.options.cleanupOnly)).toEqual([true]);

    const off = recording();
    await call(ENV, conf({ 'sidecar.istio.io/status': STATUS }, { native_nftables: false }), off.deps);
    expect(off.managers).toEqual(['iptables']);
  });

  it('native_nftables: true passes over the same pods', async () => {
    const { deps, managers } = recording();
    const result = await call(ENV, conf({ 'kubernetes.io/config.source': 'api' }, { native_nftables: true }), deps);
    expect(result).toMatchObject({ exitCode: 0, json: PREV });
    expect(managers).toEqual([]);
  });

  it('native_nftables with DRY_RUN_FILE_PATH: the transcript is the nft transaction, nothing applied', async () => {
    const { deps, applied, written } = recording();
    const env = { ...ENV, DRY_RUN_FILE_PATH: '/tmp/transcript.nft' };
    expect(await call(env, injected, deps)).toMatchObject({ exitCode: 0, json: PREV });
    expect(applied).toEqual([]);
    expect(written['/tmp/transcript.nft']).toContain(
      'add rule inet istio-proxy-nat istio-output tcp dport 15020 counter return',
    );
    await call({ ...env, CNI_COMMAND: 'DEL' }, injected, deps);
    expect(written['/tmp/transcript.nft']).toContain('delete table inet istio-proxy-nat');
  });

  it.each([
    [undefined, 30_000],
    ['1500ms', 1500],
    ['0', 0],
    ['1m', 60_000],
  ])('lock_timeout %j: ADD, CHECK and DEL wait %d ms for the lock', async (value, ms) => {
    const extra = value === undefined ? {} : { lock_timeout: value };
    for (const command of ['ADD', 'DEL']) {
      const { deps, applied } = recording();
      await call({ ...ENV, CNI_COMMAND: command }, conf({ 'sidecar.istio.io/status': STATUS }, extra), deps);
      expect(applied.map((p) => p.options.lockTimeoutMs)).toEqual([ms]);
    }
    const { deps, checked } = recording();
    const spy = {
      ...deps,
      check: async (_plan: unknown, options: { lockTimeoutMs: number }) => [`${options.lockTimeoutMs}`],
    };
    const check = await call({ ...ENV, CNI_COMMAND: 'CHECK' }, conf({ 'sidecar.istio.io/status': STATUS }, extra), spy);
    expect(check.json).toMatchObject({ code: 102, details: `${ms}` });
    expect(checked).toEqual([]);
  });

  it('a held lock: code 11 (try again later), naming the holder and the setting to raise', async () => {
    const held = new LockTimeoutError('network namespace /var/run/netns/x', 500, [{ pid: 42, command: 'sleep' }]);
    for (const stdin of [conf({ 'sidecar.istio.io/status': STATUS }), injected]) {
      const result = await call(ENV, stdin, recording({ failure: held }).deps);
      expect(result.exitCode).toBe(1);
      expect(result.json).toMatchObject({
        code: 11,
        msg: 'another run is working on network namespace /var/run/netns/x: gave up waiting for its lock after 0.5s (held by pid 42 (sleep)). Nothing was changed; retry later, or raise lock_timeout.',
      });
    }
  });
});

describe('generated network-config validator', () => {
  it('is up to date with NETCONF_SCHEMA (regenerate: npm run generate:validator)', () => {
    expect(readFileSync(NETCONF_VALIDATOR_PATH, 'utf8')).toBe(validatorSource(NETCONF_SCHEMA, NETCONF_ORIGIN));
  });
  const compiled = new Ajv({ allErrors: true, strict: true }).compile(NETCONF_SCHEMA);
  it.each([
    JSON.parse(conf({})),
    { cniVersion: 1, name: '', extra: true },
    { cniVersion: '1.0.0', name: 'n', type: 't', proxy_env: { A: 1 } },
    null,
  ])('judges %j as ajv does', (record) => {
    expect(validate(record)).toBe(compiled(record));
    expect(validate.errors ?? null).toEqual(compiled.errors ?? null);
  });
});
