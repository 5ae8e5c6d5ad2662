/**
 * `istio-iptables pod --print-args` on the injector path, against ISTIO_POD_TO_CAPTURE §2–§3:
 * the worked examples of §3.14 token by token, every annotation and Helm value of §2.1–§2.2,
 * the mesh settings of §2.3, the validation of §2.1 and the quirks of §8 that belong to this
 * path. Runs main() in-process; nothing can be applied (no `apply` dependency).
 */
import { describe, expect, it } from 'vitest';
import { ISTIO_INIT_DEFAULT, podDoc, runPod, type PodSpec } from './support/pod.js';

const args = async (pod: PodSpec, extra: readonly string[] = [], files: Record<string, string> = {}) => {
  const result = await runPod(['--print-args', ...extra], pod, files);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as string[];
};

/** The default list with `changes` applied: flag → value (undefined drops the flag). */
function withFlags(changes: Record<string, string | undefined>, tail: readonly string[] = []): string[] {
  const out: string[] = [];
  const base = ISTIO_INIT_DEFAULT.slice(0, -1);
  for (let i = 1; i < base.length; i += 2) {
    const flag = base[i] as string;
    const value = flag in changes ? changes[flag] : base[i + 1];
    if (value !== undefined) out.push(flag, value);
  }
  return ['istio-iptables', ...out, ...tail];
}
const LOG = '--log_output_level=default:info';

describe('pod --print-args, injector path: §3.14 worked examples', () => {
  it('#1 no annotations: exactly upstream list, -x "" kept as an empty item', async () => {
    expect(await args({})).toEqual([
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
      LOG,
    ]);
  });

  it('#2 port and CIDR annotations are copied verbatim (127.0.0.1/24 not masked), -o after -d', async () => {
    const pod = {
      annotations: {
        'traffic.sidecar.istio.io/includeInboundPorts': '1,2,3',
        'traffic.sidecar.istio.io/excludeInboundPorts': '4,5,6',
        'traffic.sidecar.istio.io/excludeOutboundPorts': '7,8,9',
        'traffic.sidecar.istio.io/includeOutboundIPRanges': '127.0.0.1/24,10.96.0.1/24',
        'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.96.0.2/24,10.96.0.3/24',
      },
    };
    expect(await args(pod)).toEqual(
      withFlags(
        {
          '-i': '127.0.0.1/24,10.96.0.1/24',
          '-x': '10.96.0.2/24,10.96.0.3/24',
          '-b': '1,2,3',
          '-d': '15090,15021,4,5,6,15020',
        },
        ['-o', '7,8,9', LOG],
      ),
    );
  });

  it('#3 status port annotation 0: -d keeps only 15090,15021', async () => {
    expect(await args({ annotations: { 'status.sidecar.istio.io/port': '0' } })).toEqual(
      withFlags({ '-d': '15090,15021' }, [LOG]),
    );
  });

  it('#4 reroute-virtual-interfaces wins over kubevirtInterfaces; the deprecated one alone still gives -k', async () => {
    expect(
      await args({
        annotations: {
          'istio.io/reroute-virtual-interfaces': 'vnet0',
          'traffic.sidecar.istio.io/kubevirtInterfaces': 'vnet1',
        },
      }),
    ).toEqual(withFlags({}, ['-k', 'vnet0', LOG]));
    expect(await args({ annotations: { 'traffic.sidecar.istio.io/kubevirtInterfaces': 'vnet1' } })).toEqual(
      withFlags({}, ['-k', 'vnet1', LOG]),
    );
  });

  it('#5 mesh defaultConfig TPROXY: -u 1337 -m TPROXY', async () => {
    const mesh = { 'mesh.yaml': 'defaultConfig:\n  interceptionMode: TPROXY\n' };
    expect(await args({}, ['--mesh-config', 'mesh.yaml'], mesh)).toEqual(withFlags({ '-m': 'TPROXY' }, [LOG]));
  });

  it('#6 (§8.1) as #5 with a user istio-proxy runAsUser 1234: -u 1234 even in TPROXY', async () => {
    const mesh = { 'mesh.yaml': 'defaultConfig:\n  interceptionMode: TPROXY\n' };
    const pod = { containers: [{ name: 'istio-proxy', securityContext: { runAsUser: 1234, runAsGroup: 4321 } }] };
    expect(await args(pod, ['--mesh-config', 'mesh.yaml'], mesh)).toEqual(
      withFlags({ '-u': '1234', '-m': 'TPROXY' }, [LOG]),
    );
  });

  it('#7 CNI enabled (values or --validation): istio-validation args = #1 plus --run-validation --skip-rule-apply', async () => {
    const expected = [...ISTIO_INIT_DEFAULT, '--run-validation', '--skip-rule-apply'];
    expect(await args({}, ['--validation'])).toEqual(expected);
    expect(await args({}, ['--values', 'v.yaml'], { 'v.yaml': 'pilot:\n  cni:\n    enabled: true\n' })).toEqual(
      expected,
    );
  });

  it('#9 interceptionMode NONE: no capture init container; says so, exits 0, prints no args', async () => {
    const result = await runPod(['--print-args'], { annotations: { 'sidecar.istio.io/interceptionMode': 'NONE' } });
    expect(result).toMatchObject({ code: 0, stdout: '' });
    expect(result.stderr).toMatch(/nothing to program \(injector path\): interceptionMode is NONE/);
  });
});

describe('pod --print-args, injector path: settings of §2.2–§2.3 and precedence §2.7', () => {
  it('Helm values fill -i -x -b -d -q -o when no annotation is present; -q/-o only when non-empty', async () => {
    const values = [
      'global:',
      '  proxy:',
      '    includeIPRanges: "10.0.0.0/8"',
      '    excludeIPRanges: "10.1.0.0/16"',
      '    includeInboundPorts: "80,443"',
      '    excludeInboundPorts: "9000"',
      '    includeOutboundPorts: 3306',
      '    excludeOutboundPorts: "25"',
      '    statusPort: 15999',
    ].join('\n');
    expect(await args({}, ['--values', 'v.yaml'], { 'v.yaml': values })).toEqual(
      withFlags({ '-i': '10.0.0.0/8', '-x': '10.1.0.0/16', '-b': '80,443', '-d': '15090,15021,9000,15999' }, [
        '-q',
        '3306',
        '-o',
        '25',
        LOG,
      ]),
    );
  });

  it('annotations beat values; an empty annotation is present and still wins (§8.13)', async () => {
    const values = {
      'v.yaml': 'global:\n  proxy:\n    includeIPRanges: "10.0.0.0/8"\n    includeOutboundPorts: "3306"\n',
    };
    const pod = {
      annotations: {
        'traffic.sidecar.istio.io/includeOutboundIPRanges': '192.168.0.0/16',
        'traffic.sidecar.istio.io/includeOutboundPorts': '',
        'traffic.sidecar.istio.io/includeInboundPorts': '',
        'traffic.sidecar.istio.io/excludeInboundPorts': '',
      },
    };
    expect(await args(pod, ['--values', 'v.yaml'], values)).toEqual(
      withFlags({ '-i': '192.168.0.0/16', '-b': '', '-d': '15090,15021,15020' }, ['-q', '', LOG]),
    );
  });

  it('§8.11: the empty-includes annotations give -i "" -b "" (no capture), -d still written', async () => {
    const pod = {
      annotations: {
        'traffic.sidecar.istio.io/includeOutboundIPRanges': '',
        'traffic.sidecar.istio.io/includeInboundPorts': '',
      },
    };
    expect(await args(pod)).toEqual(withFlags({ '-i': '', '-b': '' }, [LOG]));
  });

  it('-q -o -k -c annotated empty are written empty; -c and the log level from annotations', async () => {
    const pod = {
      annotations: {
        'traffic.sidecar.istio.io/includeOutboundPorts': '',
        'traffic.sidecar.istio.io/excludeOutboundPorts': '',
        'istio.io/reroute-virtual-interfaces': '',
        'traffic.sidecar.istio.io/excludeInterfaces': 'eth1',
        'sidecar.istio.io/agentLogLevel': 'default:debug',
      },
    };
    expect(await args(pod)).toEqual(
      withFlags({}, ['-q', '', '-o', '', '-k', '', '-c', 'eth1', '--log_output_level=default:debug']),
    );
  });

  it('logging, force-apply and native-nftables values, in upstream order', async () => {
    const values = [
      'global:',
      '  logging: {level: "all:warn"}',
      '  logAsJson: true',
      '  nativeNftables: true',
      '  proxy_init: {forceApplyIptables: true}',
    ].join('\n');
    expect(await args({}, ['--values', 'v.yaml'], { 'v.yaml': values })).toEqual(
      withFlags({}, ['--log_output_level=all:warn', '--log_as_json', '--force-apply', '--native-nftables']),
    );
    // With CNI, --force-apply gives way to the validation flags; --native-nftables stays last.
    expect(await args({}, ['--values', 'v.yaml', '--validation'], { 'v.yaml': values })).toEqual(
      withFlags({}, [
        '--log_output_level=all:warn',
        '--log_as_json',
        '--run-validation',
        '--skip-rule-apply',
        '--native-nftables',
      ]),
    );
  });

  it('mesh proxyListenPort / proxyInboundListenPort; 0 is written as the default', async () => {
    expect(
      await args({}, ['--mesh-config', 'm'], { m: 'proxyListenPort: 16001\nproxyInboundListenPort: 16006\n' }),
    ).toEqual(withFlags({ '-p': '16001', '-z': '16006' }, [LOG]));
    expect(await args({}, ['--mesh-config', 'm'], { m: 'proxyListenPort: 0\nproxyInboundListenPort: 0\n' })).toEqual(
      withFlags({}, [LOG]),
    );
  });

  it('mode: the annotation beats proxy.istio.io/config, which beats the mesh', async () => {
    const mesh = { m: 'defaultConfig:\n  interceptionMode: TPROXY\n' };
    expect(
      await args(
        { annotations: { 'proxy.istio.io/config': 'interceptionMode: REDIRECT' } },
        ['--mesh-config', 'm'],
        mesh,
      ),
    ).toEqual(withFlags({}, [LOG]));
    expect(
      await args(
        {
          annotations: {
            'proxy.istio.io/config': '{"interceptionMode":"REDIRECT"}',
            'sidecar.istio.io/interceptionMode': 'TPROXY',
          },
        },
        ['--mesh-config', 'm'],
        mesh,
      ),
    ).toEqual(withFlags({ '-m': 'TPROXY' }, [LOG]));
  });

  it('§8.2: a user istio-proxy runAsGroup never reaches the args (no -g); runAsUser 0 keeps 1337', async () => {
    expect(
      await args({ containers: [{ name: 'istio-proxy', securityContext: { runAsUser: 0, runAsGroup: 4321 } }] }),
    ).toEqual(withFlags({}, [LOG]));
    expect(await args({ initContainers: [{ name: 'istio-proxy', securityContext: { runAsUser: 2000 } }] })).toEqual(
      withFlags({ '-u': '2000' }, [LOG]),
    );
  });

  it('§8.3: global.proxy.statusPort sets -d; mesh defaultConfig.statusPort does not', async () => {
    expect(await args({}, ['--mesh-config', 'm'], { m: 'defaultConfig:\n  statusPort: 15555\n' })).toEqual(
      withFlags({}, [LOG]),
    );
    expect(await args({}, ['--values', 'v'], { v: 'global:\n  proxy:\n    statusPort: 0\n' })).toEqual(
      withFlags({ '-d': '15090,15021' }, [LOG]),
    );
  });

  it('§8.9: the injector validates neither includeOutboundPorts nor values (a bad value is written as is)', async () => {
    expect(await args({ annotations: { 'traffic.sidecar.istio.io/includeOutboundPorts': 'abc' } })).toEqual(
      withFlags({}, ['-q', 'abc', LOG]),
    );
    expect(await args({}, ['--values', 'v'], { v: 'global:\n  proxy:\n    excludeIPRanges: "*"\n' })).toEqual(
      withFlags({ '-x': '*' }, [LOG]),
    );
  });

  it('§8.10: interface items are validated trimmed but written with their spaces', async () => {
    expect(await args({ annotations: { 'traffic.sidecar.istio.io/excludeInterfaces': 'eth0, eth1' } })).toEqual(
      withFlags({}, ['-c', 'eth0, eth1', LOG]),
    );
  });
});

describe('pod --print-args, injector path: which pods get an init container (§3.1, §3.11)', () => {
  it.each([
    ['host network', { hostNetwork: true }, /host-network pods are not injected/],
    [
      'inject annotation false',
      { annotations: { 'sidecar.istio.io/inject': 'false' } },
      /sidecar.istio.io\/inject is false/,
    ],
    [
      'the label wins over the annotation',
      { labels: { 'sidecar.istio.io/inject': 'f' }, annotations: { 'sidecar.istio.io/inject': 'true' } },
      /inject is false/,
    ],
    ['a gateway template', { annotations: { 'inject.istio.io/templates': 'gateway' } }, /only the sidecar template/],
  ] as const)('%s: nothing to program, exit 0, no output', async (_title, pod, reason) => {
    const result = await runPod(['--print-args'], pod);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(reason);
  });

  it('a label inject=true beats an annotation false; the sidecar template layered with another injects', async () => {
    expect(
      await args({
        labels: { 'sidecar.istio.io/inject': 'true' },
        annotations: { 'sidecar.istio.io/inject': 'false' },
      }),
    ).toEqual(ISTIO_INIT_DEFAULT);
    expect(await args({ annotations: { 'inject.istio.io/templates': 'sidecar,custom' } })).toEqual(ISTIO_INIT_DEFAULT);
  });

  it("a user istio-init's args replace the template's; the -u after them is still replaced", async () => {
    const pod = {
      initContainers: [{ name: 'istio-init', args: ['my', 'custom', 'args'] }],
      containers: [{ name: 'istio-proxy', securityContext: { runAsUser: 1234 } }],
    };
    expect(await args(pod)).toEqual(['my', 'custom', 'args']);
    expect(await args({ ...pod, initContainers: [{ name: 'istio-init', args: ['-u', '1', '-u', '2'] }] })).toEqual([
      '-u',
      '1234',
      '-u',
      '2',
    ]);
  });

  it('re-injection: the containers of the previous injection are dropped, its istio-proxy ids still count', async () => {
    const pod = {
      annotations: { 'sidecar.istio.io/status': '{"initContainers":["istio-init"],"containers":["istio-proxy"]}' },
      initContainers: [{ name: 'istio-init', args: ['istio-iptables', '-p', '1'] }],
      containers: [{ name: 'istio-proxy', securityContext: { runAsUser: 1337, runAsGroup: 1337 } }],
    };
    expect(await args(pod)).toEqual(ISTIO_INIT_DEFAULT);
  });

  it('workloads: the pod template of a Deployment, a CronJob, a List item; --index picks among pods', async () => {
    const annotated = { annotations: { 'traffic.sidecar.istio.io/includeInboundPorts': '8080' } };
    const expected = withFlags({ '-b': '8080' }, [LOG]);
    for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'List'] as const) {
      expect(await args({ ...annotated, kind })).toEqual(expected);
    }
    const multi = `${JSON.stringify({ kind: 'Service', metadata: { name: 's' } })}\n---\n${podDoc({})}\n---\n${podDoc(annotated)}`;
    const second = await runPod(['--print-args', '--index', '1'], multi);
    expect(JSON.parse(second.stdout)).toEqual(expected);
    const first = await runPod(['--print-args'], multi);
    expect(JSON.parse(first.stdout)).toEqual(ISTIO_INIT_DEFAULT);
    const beyond = await runPod(['--print-args', '--index', '2'], multi);
    expect(beyond.code).toBe(2);
    expect(beyond.stderr).toContain('--index="2": the input holds 2 pods');
  });
});

describe('pod: invalid annotations are errors naming the annotation (§2.1, §3.10)', () => {
  it.each([
    ['sidecar.istio.io/interceptionMode', 'tproxy'],
    ['traffic.sidecar.istio.io/includeOutboundIPRanges', '10.0.0.0/8, 10.1.0.0/16'],
    ['traffic.sidecar.istio.io/excludeOutboundIPRanges', '*'],
    ['traffic.sidecar.istio.io/includeInboundPorts', '1000:2000'],
    ['traffic.sidecar.istio.io/excludeInboundPorts', '*'],
    ['traffic.sidecar.istio.io/excludeOutboundPorts', '70000'],
    ['istio.io/reroute-virtual-interfaces', '0eth'],
    ['traffic.sidecar.istio.io/kubevirtInterfaces', 'averyveryverylongname'],
    ['traffic.sidecar.istio.io/excludeInterfaces', 'eth0,,eth1'],
    ['status.sidecar.istio.io/port', 'x'],
    ['proxy.istio.io/config', 'interceptionMode: [1'],
    ['proxy.istio.io/config', 'interceptionMode: SIDEWAYS'],
  ])('%s=%j: exit 2, nothing printed, the annotation and value named', async (name, value) => {
    const result = await runPod(['--print-args'], { annotations: { [name]: value } });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`annotation ${name}=${JSON.stringify(value)}`);
  });

  it('validation covers every annotation at once, even those that would not reach the args', async () => {
    const result = await runPod(['--print-args'], {
      annotations: { 'status.sidecar.istio.io/port': '-1', 'traffic.sidecar.istio.io/excludeOutboundPorts': ',80' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('2 problems');
  });

  it('port 0 and trimmed items pass validation; non-string annotation values are refused', async () => {
    expect(await args({ annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '0, 80' } })).toEqual(
      withFlags({}, ['-o', '0, 80', LOG]),
    );
    const result = await runPod(
      ['--print-args'],
      '{"kind":"Pod","metadata":{"annotations":{"status.sidecar.istio.io/port":0}}}',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('annotation status.sidecar.istio.io/port="0": expected a string');
  });

  it('bad input files and options are errors naming them', async () => {
    expect((await runPod(['--print-args'], 'kind: [')).stderr).toContain('not YAML or JSON');
    expect((await runPod(['--print-args', '--path', 'both'], {})).stderr).toContain(
      '--path="both": expected injector or cni',
    );
    expect((await runPod(['--print-args', '--values', 'missing.yaml'], {})).stderr).toContain(
      '--values="missing.yaml": cannot read',
    );
    expect((await runPod(['--print-args'], '{"kind":"Service"}')).stderr).toContain('no Pod or workload');
  });
});

describe('pod without --print-args: a normal run of those args', () => {
  it('--dry-run prints exactly what the CLI prints for the args and env the path gives', async () => {
    const { runCli } = await import('./support/cli.js');
    const { IPV4_POD } = await import('./support/pod.js');
    const mesh = {
      m: 'defaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: "true"\n    CAPTURE_ALL_DNS: "true"\n',
    };
    const viaPod = await runPod(['--dry-run', '--mesh-config', 'm'], {}, mesh);
    const env = { CAPTURE_ALL_DNS: 'true', ISTIO_META_DNS_CAPTURE: 'true' };
    const direct = await runCli([...ISTIO_INIT_DEFAULT, '--dry-run'], env, IPV4_POD);
    expect(viaPod.code).toBe(0);
    expect(viaPod.stdout).toBe(direct.stdout);
    expect(viaPod.stdout).toContain('--dport 53 -j REDIRECT --to-ports 15053');
    expect(viaPod.stderr).toContain('istio-init runs istio-iptables');
  });

  it('a pod the path would not program: says so, exits 0, prints no payload', async () => {
    const result = await runPod(['--dry-run'], { annotations: { 'sidecar.istio.io/inject': 'false' } });
    expect(result).toMatchObject({ code: 0, stdout: '' });
    expect(result.stderr).toContain('nothing to program');
  });

  it('pod --help lists the options', async () => {
    const result = await runPod(['--help'], {});
    expect(result.code).toBe(0);
    for (const option of [
      '--path',
      '--mesh-config',
      '--values',
      '--index',
      '--print-args',
      '--validation',
      '--dry-run',
      '--network-namespace',
    ])
      expect(result.stdout).toContain(option);
  });
});
