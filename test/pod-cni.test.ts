/**
 * The CNI path of `pod` (ISTIO_POD_TO_CAPTURE §4), the differences between the paths (§5) and
 * the quirks of §8 that show only when both are compared; plus the two list algorithms
 * (§3.3's status-port merge, §4.3's CNI exclude list) row by row, and the environment each
 * path runs with (§2.4, §3.8, §4.5).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { cniInboundExcludes } from '../src/pod/cni.js';
import { podCapture } from '../src/pod/capture.js';
import { inject, mergeStatusPort } from '../src/pod/injector.js';
import { readPod } from '../src/pod/kube.js';
import { readMesh, readValues } from '../src/pod/mesh.js';
import { ISTIO_INIT_DEFAULT, podDoc, runPod, type PodSpec } from './support/pod.js';

const STATUS = { 'sidecar.istio.io/status': '{"initContainers":["istio-validation"],"containers":["istio-proxy"]}' };
const PROXY = { name: 'istio-proxy', args: ['proxy', 'sidecar'] };

/** §4.8's command line for upstream's `basic` pod, with `changes` (flag → value, undefined drops it) and extra flags. */
function cniArgs(changes: Record<string, string | undefined> = {}, tail: readonly string[] = []): string[] {
  const base: [string, string][] = [
    ['-p', '15001'],
    ['-z', '15006'],
    ['-e', '15008'],
    ['-u', '1337'],
    ['-g', '1337'],
    ['-m', 'REDIRECT'],
    ['-b', '*'],
    ['-d', '15020,15021,15090'],
    ['-i', '*'],
    ['-x', ''],
    ['-q', ''],
    ['-o', '15020'],
    ['-k', ''],
    ['-c', ''],
  ];
  const out = base.flatMap(([flag, value]) => {
    const v = flag in changes ? changes[flag] : value;
    return v === undefined || (v === '' && ['-x', '-q', '-k', '-c'].includes(flag)) ? [] : [flag, v];
  });
  return [
    ...out,
    '-t',
    '1337',
    '-r',
    '133',
    '--iptables-probe-port',
    '15002',
    '--probe-timeout',
    '5s',
    '--cni-mode',
    ...tail,
  ];
}

const cni = async (pod: PodSpec, extra: readonly string[] = [], files: Record<string, string> = {}) => {
  const result = await runPod(['--print-args', '--path', 'cni', ...extra], pod, files);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as string[];
};
const injector = async (pod: PodSpec, extra: readonly string[] = [], files: Record<string, string> = {}) =>
  JSON.parse((await runPod(['--print-args', ...extra], pod, files)).stdout) as string[];

describe('pod --print-args --path cni: §4.2 field table and §4.8', () => {
  it("upstream's basic pod (only the status annotation): §4.8's command line", async () => {
    expect(await cni({ annotations: STATUS, containers: [PROXY] })).toEqual([
      '-p',
      '15001',
      '-z',
      '15006',
      '-e',
      '15008',
      '-u',
      '1337',
      '-g',
      '1337',
      '-m',
      'REDIRECT',
      '-b',
      '*',
      '-d',
      '15020,15021,15090',
      '-i',
      '*',
      '-o',
      '15020',
      '-t',
      '1337',
      '-r',
      '133',
      '--iptables-probe-port',
      '15002',
      '--probe-timeout',
      '5s',
      '--cni-mode',
    ]);
  });

  it('with --network-namespace, the printed command line ends with it, as the CNI always names the namespace', async () => {
    expect(await cni({}, ['--network-namespace', '/var/run/netns/pod'])).toEqual(
      cniArgs({}, ['--network-namespace', '/var/run/netns/pod']),
    );
  });

  it('§4.9: a pod not yet injected is injected first (CNI on); -d and -o differ from path A (§8.5)', async () => {
    expect(await cni({})).toEqual(cniArgs());
    expect(await injector({})).toEqual(ISTIO_INIT_DEFAULT);
    const annotated = { annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '4,5,6' } };
    expect(await cni(annotated)).toEqual(cniArgs({ '-d': '4,5,6,15020,15021,15090' }));
    expect(await injector(annotated)).toContain('15090,15021,4,5,6,15020');
  });

  it('every annotation maps to its flag, used verbatim; -x -q -k -c only when non-empty', async () => {
    const annotations = {
      ...STATUS,
      'sidecar.istio.io/interceptionMode': 'TPROXY',
      'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0/8',
      'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.1.0.0/16',
      'traffic.sidecar.istio.io/includeInboundPorts': '80,443',
      'traffic.sidecar.istio.io/excludeInboundPorts': '3306, 3307',
      'traffic.sidecar.istio.io/includeOutboundPorts': '8080',
      'traffic.sidecar.istio.io/excludeOutboundPorts': '25',
      'traffic.sidecar.istio.io/kubevirtInterfaces': 'vnet1',
      'traffic.sidecar.istio.io/excludeInterfaces': 'eth1',
    };
    expect(await cni({ annotations, containers: [PROXY] })).toEqual(
      cniArgs({
        '-m': 'TPROXY',
        '-i': '10.0.0.0/8',
        '-x': '10.1.0.0/16',
        '-b': '80,443',
        '-d': '3306, 3307,15020,15021,15090',
        '-q': '8080',
        '-o': '25',
        '-k': 'vnet1',
        '-c': 'eth1',
      }),
    );
    const empty = {
      ...STATUS,
      'traffic.sidecar.istio.io/excludeOutboundIPRanges': '',
      'istio.io/reroute-virtual-interfaces': '',
    };
    expect(
      await cni({
        annotations: { ...empty, 'traffic.sidecar.istio.io/kubevirtInterfaces': 'vnet1' },
        containers: [PROXY],
      }),
    ).toEqual(cniArgs());
  });

  it('§4.4: UID and GID from istio-proxy, each non-zero or 1337, independently', async () => {
    const proxy = (securityContext: object) => ({ annotations: STATUS, containers: [{ ...PROXY, securityContext }] });
    expect(await cni(proxy({ runAsUser: 1000670000, runAsGroup: 1000670001 }))).toEqual(
      cniArgs({ '-u': '1000670000', '-g': '1000670001' }),
    );
    expect(await cni(proxy({ runAsUser: 0 }))).toEqual(cniArgs());
  });

  it('§8.1: TPROXY with a user runAsUser 1234 / runAsGroup 4321: path A -u 1234, the CNI 1337/4321', async () => {
    const pod = {
      annotations: { 'sidecar.istio.io/interceptionMode': 'TPROXY' },
      containers: [{ name: 'istio-proxy', securityContext: { runAsUser: 1234, runAsGroup: 4321 } }],
    };
    expect(await injector(pod)).toEqual(expect.arrayContaining(['-u', '1234', '-m', 'TPROXY']));
    expect(await cni(pod)).toEqual(cniArgs({ '-u': '1337', '-g': '4321', '-m': 'TPROXY' }));
    const mesh = { m: 'defaultConfig:\n  interceptionMode: TPROXY\n' };
    expect(await cni({}, ['--mesh-config', 'm'], mesh)).toEqual(cniArgs({ '-m': 'TPROXY' }));
  });

  it('§8.3: the CNI ignores the status-port annotation, but the injector folds it into the exclude annotation', async () => {
    const injected = { annotations: { ...STATUS, 'status.sidecar.istio.io/port': '123' }, containers: [PROXY] };
    expect(await cni(injected)).toEqual(cniArgs());
    expect(await cni({ annotations: { 'status.sidecar.istio.io/port': '123' } })).toEqual(
      cniArgs({ '-d': '123,15020,15021,15090' }),
    );
    expect(await cni({}, ['--values', 'v'], { v: 'global:\n  proxy:\n    statusPort: 0\n' })).toEqual(cniArgs());
  });

  it('a pod injected before without CNI (istio-init in its status) is re-injected for the CNI, not passed over', async () => {
    const pod = {
      annotations: { 'sidecar.istio.io/status': '{"initContainers":["istio-init"],"containers":["istio-proxy"]}' },
      initContainers: [{ name: 'istio-init', args: ['istio-iptables'] }],
      containers: [{ ...PROXY, securityContext: { runAsUser: 1337, runAsGroup: 1337 } }],
    };
    // Read as it is (the live pod), the CNI passes over it: istio-init owns the capture.
    expect((await runPod(['--print-args', '--path', 'cni'], pod)).stderr).toMatch(/istio-init container/);
    const reinjected = inject(readPod(JSON.parse(podDoc(pod))), readMesh({}, []), {
      ...readValues({}),
      cniEnabled: true,
    });
    expect(reinjected.kind === 'injected' && reinjected.pod.initContainers.map((c) => c.name)).toEqual([
      'istio-validation',
    ]);
  });

  it('§8.6: interceptionMode NONE under CNI: the injector writes no init container, the CNI ADD fails', async () => {
    const pod = { annotations: { 'sidecar.istio.io/interceptionMode': 'NONE' } };
    expect((await runPod(['--print-args', '--validation'], pod)).stderr).toMatch(/interceptionMode is NONE/);
    const result = await runPod(['--print-args', '--path', 'cni'], pod);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('annotation sidecar.istio.io/interceptionMode="NONE"');
  });

  it('§4.7: values global.nativeNftables makes the CNI path native nftables (--native-nftables, last); the record is the same', async () => {
    const values = { v: 'global:\n  nativeNftables: true\n' };
    expect(await cni({}, ['--values', 'v'], values)).toEqual(cniArgs({}, ['--native-nftables']));
    const dns = {
      annotations: STATUS,
      containers: [{ ...PROXY, env: [{ name: 'ISTIO_META_DNS_CAPTURE', value: 'true' }] }],
    };
    expect(await cni(dns, ['--values', 'v'], values)).toEqual(
      cniArgs({}, ['--redirect-dns', '--capture-all-dns', '--native-nftables']),
    );
  });

  it('§8.7: values includeIPRanges "" gives path A -i "" but the CNI captures everything', async () => {
    const values = { v: 'global:\n  proxy:\n    includeIPRanges: ""\n' };
    expect(await injector({}, ['--values', 'v'], values)).toEqual(expect.arrayContaining(['-i', '', '-x', '']));
    expect(await cni({}, ['--values', 'v'], values)).toEqual(cniArgs({ '-i': '*' }));
    // The pod's own empty annotation is kept, and then means "no outbound capture" on both paths.
    expect(await cni({ annotations: { 'traffic.sidecar.istio.io/includeOutboundIPRanges': '' } })).toEqual(
      cniArgs({ '-i': '' }),
    );
  });

  it('§8.9: the CNI accepts * in exclude-port annotations (passed on verbatim) and validates includeOutboundPorts', async () => {
    const star = {
      annotations: { ...STATUS, 'traffic.sidecar.istio.io/excludeOutboundPorts': '*' },
      containers: [PROXY],
    };
    expect(await cni(star)).toEqual(cniArgs({ '-o': '*' }));
    // ... where istio-iptables then refuses it: here too, naming the flag.
    const run = await runPod(['--path', 'cni', '--dry-run'], star);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--istio-local-outbound-ports-exclude="*"');
    const bad = {
      annotations: { ...STATUS, 'traffic.sidecar.istio.io/includeOutboundPorts': 'abc' },
      containers: [PROXY],
    };
    const refused = await runPod(['--print-args', '--path', 'cni'], bad);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('annotation traffic.sidecar.istio.io/includeOutboundPorts="abc"');
  });

  it('§8.12: IPTABLES_TRACE_LOGGING makes the injected proxy run as root, so the CNI uses 1337', async () => {
    const mesh = { m: 'defaultConfig:\n  proxyMetadata:\n    IPTABLES_TRACE_LOGGING: "true"\n' };
    const pod = { containers: [{ name: 'istio-proxy', securityContext: { runAsGroup: 2000 } }] };
    expect(await cni(pod, ['--mesh-config', 'm'], mesh)).toEqual(cniArgs({ '-g': '2000' }));
    expect(await injector({}, ['--mesh-config', 'm'], mesh)).toEqual(ISTIO_INIT_DEFAULT);
  });

  it.each([
    [
      'an istio-init container (path A owns the capture)',
      { annotations: STATUS, containers: [PROXY], initContainers: [{ name: 'istio-init' }] },
      /istio-init container/,
    ],
    [
      'DISABLE_ENVOY',
      { annotations: STATUS, containers: [{ ...PROXY, env: [{ name: 'DISABLE_ENVOY', value: 'true' }] }] },
      /DISABLE_ENVOY/,
    ],
    ['no istio-proxy', { annotations: STATUS }, /no istio-proxy container/],
    [
      'a router proxy',
      { annotations: STATUS, containers: [{ ...PROXY, args: ['proxy', 'router'] }] },
      /runs as a router/,
    ],
    [
      'inject=false',
      { annotations: { ...STATUS, 'sidecar.istio.io/inject': 'false' }, containers: [PROXY] },
      /inject is false/,
    ],
    ['kube-system', { namespace: 'kube-system' }, /namespace kube-system is excluded/],
    ['host network', { hostNetwork: true }, /host-network/],
  ] as const)('§4.1 %s: passed over, exit 0, nothing printed', async (_title, pod, reason) => {
    const result = await runPod(['--print-args', '--path', 'cni'], pod);
    expect(result).toMatchObject({ code: 0, stdout: '' });
    expect(result.stderr).toMatch(reason);
  });
});

describe('the environment each path runs with (§2.4, §3.8, §4.5)', () => {
  const capture = (path: 'injector' | 'cni', mesh: string, podText = podDoc({})) =>
    podCapture({
      pod: readPod(JSON.parse(podText)),
      path,
      mesh: readMesh(JSON.parse(mesh), []),
      values: readValues({}),
    });
  const meshWith = (metadata: Record<string, string>) => JSON.stringify({ defaultConfig: { proxyMetadata: metadata } });

  it('§8.8 DNS: path A gets ISTIO_META_DNS_CAPTURE as env (resolv.conf servers), the CNI capture-all', () => {
    const mesh = meshWith({ ISTIO_META_DNS_CAPTURE: 'true' });
    expect(capture('injector', mesh)).toMatchObject({
      env: { ISTIO_META_DNS_CAPTURE: 'true' },
      args: ISTIO_INIT_DEFAULT,
    });
    const viaCni = capture('cni', mesh);
    expect(viaCni).toMatchObject({ env: {}, args: cniArgs({}, ['--redirect-dns', '--capture-all-dns']) });
  });

  it('the CNI reads only INVALID_DROP and ISTIO_DUAL_STACK; path A carries every name as env, sorted', () => {
    const mesh = meshWith({ DUAL_STACK: 'true', DROP_INVALID: 'true', CAPTURE_ALL_DNS: 'true', REDIRECT_DNS: 'true' });
    expect(capture('cni', mesh)).toMatchObject({ args: cniArgs() });
    expect(capture('cni', meshWith({ INVALID_DROP: '1', ISTIO_DUAL_STACK: 'T' }))).toMatchObject({
      args: cniArgs({}, ['--drop-invalid', '--dual-stack']),
    });
    const injected = capture('injector', mesh);
    expect(injected.kind === 'capture' && Object.keys(injected.env)).toEqual([
      'CAPTURE_ALL_DNS',
      'DROP_INVALID',
      'DUAL_STACK',
      'REDIRECT_DNS',
    ]);
  });

  it('proxyMetadata merges key by key: the annotation over the mesh (upstream traffic-annotations)', () => {
    const mesh = meshWith({ ISTIO_META_TLS_CLIENT_KEY: '/etc/identity/client/keys/client-key.pem', KEEP: 'x' });
    const pod = podDoc({
      annotations: {
        'proxy.istio.io/config':
          'proxyMetadata:\n  FOO: bar\n  ISTIO_META_TLS_CLIENT_KEY: /etc/identity2/client/keys/client-key.pem\n',
      },
    });
    expect(capture('injector', mesh, pod)).toMatchObject({
      env: { FOO: 'bar', ISTIO_META_TLS_CLIENT_KEY: '/etc/identity2/client/keys/client-key.pem', KEEP: 'x' },
    });
  });

  it('a CNI env value that is not a boolean reads as false, with a warning', () => {
    expect(capture('cni', meshWith({ ISTIO_META_DNS_CAPTURE: 'yes' }))).toMatchObject({
      args: cniArgs(),
      warnings: ['istio-proxy env ISTIO_META_DNS_CAPTURE="yes" is not a boolean: read as false'],
    });
  });

  it("the CNI sees a user istio-proxy's own env, which path A never gets", () => {
    const pod = podDoc({
      containers: [{ name: 'istio-proxy', env: [{ name: 'ISTIO_META_DNS_CAPTURE', value: 'true' }] }],
    });
    expect(capture('cni', '{}', pod)).toMatchObject({ args: cniArgs({}, ['--redirect-dns', '--capture-all-dns']) });
    expect(capture('injector', '{}', pod)).toMatchObject({ env: {} });
  });

  it('§2.4 in a run: env for a flag the injector writes is dead, an env-only setting acts; the CNI ignores both', async () => {
    const dryRun = async (path: string, metadata: Record<string, string>) => {
      const mesh = { m: JSON.stringify({ defaultConfig: { proxyMetadata: metadata } }) };
      const result = await runPod(['--dry-run', '--path', path, '--mesh-config', 'm'], {}, mesh);
      expect(result.code, result.stderr).toBe(0);
      return result.stdout;
    };
    for (const path of ['injector', 'cni']) {
      const plain = await dryRun(path, {});
      expect(await dryRun(path, { ISTIO_SERVICE_CIDR: '10.0.0.0/8', ISTIO_INBOUND_PORTS: '80' })).toBe(plain);
      const withGid = await dryRun(path, { PROXY_GID: '2000' });
      if (path === 'injector') expect(withGid).toContain('-m owner --gid-owner 2000 -j RETURN');
      else expect(withGid).toBe(plain);
    }
  });

  it('pod-level runAsUser/runAsGroup are ignored on both paths; only istio-proxy counts', async () => {
    const pod = podDoc({});
    const withPodLevel = JSON.parse(pod) as { spec: Record<string, unknown> };
    withPodLevel.spec.securityContext = { runAsUser: 4000, runAsGroup: 4001 };
    const text = JSON.stringify(withPodLevel);
    expect(capture('injector', '{}', text)).toMatchObject({ args: ISTIO_INIT_DEFAULT });
    expect(capture('cni', '{}', text)).toMatchObject({ args: cniArgs() });
  });

  it('a bad proxy.istio.io/config fails with a ConfigError on both paths', () => {
    const pod = podDoc({ annotations: { 'proxy.istio.io/config': 'proxyMetadata: [1]' } });
    expect(() => capture('injector', '{}', pod)).toThrow(ConfigError);
    expect(() => capture('cni', '{}', pod)).toThrow(ConfigError);
  });
});

describe('§3.3 status-port merge, row by row (§8.4 asymmetry)', () => {
  it.each([
    ['15020', '', '15020'],
    ['15020', '4,5,6', '4,5,6,15020'],
    ['123', '', '123'],
    ['0', '', ''],
    ['0', '4,5,6', '4,5,6'],
    ['15020', '15020', '15020'],
    ['15020', '8080,15020', '8080,15020'],
    ['15020', '15020, 8080', '15020, 8080'],
    ['15020', '8080, 9090', '8080,9090,15020'],
    ['15020', ' 15020,8080', '15020,8080,15020'],
    ['15020', '80,,90', '80,90,15020'],
    [' 15020 ', '', '15020'],
  ])('S=%j E=%j → M=%j', (status, excludes, merged) => {
    expect(mergeStatusPort(status, excludes)).toBe(merged);
  });
});

describe('§4.3 CNI inbound exclude list, row by row', () => {
  it.each([
    [undefined, '15020,15021,15090'],
    ['', '15020,15021,15090'],
    ['3306', '3306,15020,15021,15090'],
    ['3333,4444', '3333,4444,15020,15021,15090'],
    ['15020', '15020,15021,15090'],
    ['4,5,6,15020', '4,5,6,15020,15021,15090'],
    ['3306, 3307', '3306, 3307,15020,15021,15090'],
    ['15020 ,80', '15020 ,80,15020,15021,15090'],
  ])('annotation %j → %j', (annotation, expected) => {
    expect(cniInboundExcludes(annotation)).toBe(expected);
  });
});
